// readInit on mutated INITs and random datagrams; InitHandshake.finish on mutated RESPONSEs.
import fc from 'fast-check'
import { InitHandshake, readInit, writeResponse } from '../../../src/vpn/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { mutationArb, mutate, timeBoxed, type FuzzTarget } from '../lib.js'

/**
 * Bytes no key authenticates: a RESPONSE's header (type, version, indexes) and an INIT's mac2
 * (its last 16 bytes; checked against a cookie only under load, outside readInit; mac1 covers
 * the INIT's header). An on-path attacker can rewrite them; the fuzz only requires that nothing
 * authenticated changed when a mutated datagram is accepted.
 */
const INIT_MAC2_BYTES = 16
const RESPONSE_CLEAR_BYTES = 10

function differsOnlyBefore (a: Buffer, b: Buffer, clearBytes: number): boolean {
  return a.length === b.length && a.subarray(clearBytes).equals(b.subarray(clearBytes))
}

function differsOnlyInMac2 (a: Buffer, b: Buffer): boolean {
  return a.length === b.length && a.subarray(0, a.length - INIT_MAC2_BYTES).equals(b.subarray(0, b.length - INIT_MAC2_BYTES))
}

export const vpnHandshakeTarget: FuzzTarget = {
  name: 'vpn-handshake',
  about: 'readInit/InitHandshake.finish: never throw; a mutated INIT or RESPONSE authenticates only if its Noise bytes are intact',
  slow: true,
  create () {
    const psk = generateKey()
    const otherPsk = generateKey()
    const property = fc.property(
      fc.constantFrom('init', 'response', 'raw-init', 'raw-response'),
      fc.array(mutationArb, { minLength: 0, maxLength: 4 }),
      fc.uint8Array({ maxLength: 200 }),
      fc.integer({ min: 0, max: 0xffffffff }),
      fc.boolean(),
      (which, mutations, raw, index, wrongKey) => {
        timeBoxed(() => {
          const init = new InitHandshake(wrongKey ? otherPsk : psk, index, { timestamp: Buffer.alloc(12, 7), clientId: Buffer.alloc(16, 9), pathId: index & 0xff })
          if (which === 'init' || which === 'raw-init') {
            const datagram = which === 'raw-init' ? Buffer.from(raw) : mutate(init.datagram, mutations)
            const sent = Buffer.from(datagram) // the Noise library may decrypt in place
            const decision = readInit([psk], datagram)
            if (!decision.ok) return
            if (wrongKey) throw new Error('INIT under another key accepted')
            if (which === 'raw-init' || !differsOnlyInMac2(sent, init.datagram)) throw new Error('a forged INIT authenticated')
            return
          }
          const decision = readInit([psk], init.datagram)
          let response: Buffer
          if (decision.ok) response = writeResponse(decision.response, 22, decision.senderIndex).datagram
          else if (wrongKey) response = Buffer.from(raw)
          else throw new Error('a valid INIT was refused')
          const datagram = which === 'raw-response' ? Buffer.from(raw) : mutate(response, mutations)
          const sent = Buffer.from(datagram)
          const done = init.finish(datagram)
          if (done === null) return
          if (which === 'raw-response' || !differsOnlyBefore(sent, response, RESPONSE_CLEAR_BYTES)) throw new Error('a forged RESPONSE authenticated')
          if (sent.readUInt32BE(6) !== index) throw new Error('RESPONSE for another index accepted')
        })
      })
    return { property }
  },
}
