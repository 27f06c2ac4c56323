// VpnSession.open on sealed datagrams with mutations, replays and random bytes.
import fc from 'fast-check'
import { SEALED_HEADER_BYTES, TAG_BYTES } from '../../../src/vpn/wire.js'
import { vpnPair } from '../vpn-pair.js'
import { mutationArb, mutate, timeBoxed, type FuzzTarget } from '../lib.js'

/**
 * Known, reported (test/unit/fuzz-regressions.test.ts): a counter field of 2^53 or more makes
 * VpnSession.open throw (native AEAD RangeError) before authentication: one spoofed datagram
 * carrying a live receiver index throws out of the server's UDP batch handler.
 */
/** Was a known bug (a counter >= 2^53 threw); fixed in 3365717, so no input is skipped now. */
export function hitsKnownCounterBug (_datagram: Buffer): boolean {
  return false
}

export const vpnSessionTarget: FuzzTarget = {
  name: 'vpn-session',
  about: 'VpnSession.open: never throws; a changed byte never opens; a datagram opens once; good traffic keeps flowing',
  create () {
    const { client, server } = vpnPair()
    let nowMs = 1
    let forged = 0
    const property = fc.property(
      fc.uint8Array({ minLength: 2, maxLength: 200 }),
      fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
      fc.constantFrom('mutated', 'mutated', 'mutated', 'raw', 'replay'),
      fc.uint8Array({ maxLength: 240 }),
      (plain, mutations, mode, raw) => {
        nowMs += 1
        timeBoxed(() => {
          const length = SEALED_HEADER_BYTES + plain.length + TAG_BYTES
          const sealed = Buffer.alloc(length)
          sealed.set(plain, SEALED_HEADER_BYTES)
          client.seal(sealed, length)
          const datagram = mode === 'raw' ? Buffer.from(raw) : mutate(sealed, mutations)
          if (hitsKnownCounterBug(datagram)) return
          const isOriginal = mode !== 'raw' && datagram.equals(sealed)
          const copy = Buffer.from(datagram)
          const result = copy.length === 0 ? 'short' : server.open(copy, copy.length, nowMs)
          if (result === 'ok' && !isOriginal) { forged++; throw new Error(`a changed datagram opened (${mode})`) }
          if (result === 'ok' && !copy.subarray(SEALED_HEADER_BYTES, length - TAG_BYTES).equals(Buffer.from(plain))) throw new Error('opened to other bytes')
          if (isOriginal && result !== 'ok') throw new Error(`an intact datagram gave ${result}`)
          if (isOriginal || mode === 'replay') {
            const again = Buffer.from(sealed)
            const second = server.open(again, again.length, nowMs)
            if (second === 'ok' && (isOriginal || result === 'ok')) throw new Error('a datagram opened twice')
          }
          // The good direction still works after every input.
          const back = Buffer.alloc(SEALED_HEADER_BYTES + 4 + TAG_BYTES)
          back.write('good', SEALED_HEADER_BYTES)
          server.seal(back, back.length)
          if (client.open(back, back.length, nowMs) !== 'ok') throw new Error('the good direction stopped working')
        })
      })
    return { property, after: () => { if (forged > 0) throw new Error(`${forged} forged datagrams opened`) } }
  },
}
