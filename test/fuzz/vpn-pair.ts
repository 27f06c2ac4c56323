// A completed VPN handshake pair (client and server VpnSession), as in test/unit/vpn/session.test.ts.
import { VpnSession, type SessionTimings } from '../../src/vpn/session.js'
import { InitHandshake, readInit, writeResponse } from '../../src/vpn/handshake.js'
import { generateKey } from '../../src/crypto/key.js'

export const fuzzTimings: SessionTimings = { rekeyIntervalMs: 1_000_000_000, rekeyGraceMs: 500, rekeyRetryMs: 100, maxKeyAgeMs: 2_000_000_000 }

export interface VpnPair { psk: Buffer, init: InitHandshake, client: VpnSession, server: VpnSession }

export function vpnPair (timings: SessionTimings = fuzzTimings): VpnPair {
  const psk = generateKey()
  const init = new InitHandshake(psk, 11, { timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), pathId: 0 })
  const decision = readInit([psk], init.datagram)
  if (!decision.ok) throw new Error(`fixture: INIT refused: ${decision.reason}`)
  const { datagram, secrets } = writeResponse(decision.response, 22, decision.senderIndex)
  const done = init.finish(datagram)
  if (done === null) throw new Error('fixture: RESPONSE refused')
  return {
    psk, init,
    client: new VpnSession(done.secrets, true, 11, 22, psk, timings, 0),
    server: new VpnSession(secrets, false, 22, 11, psk, timings, 0),
  }
}
