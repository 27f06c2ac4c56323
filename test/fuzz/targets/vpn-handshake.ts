// readInit on mutated INITs and random datagrams; InitHandshake.finish on mutated RESPONSEs.
import fc from 'fast-check'
import { InitHandshake, readInit, writeResponse } from '../../../src/vpn/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { mutationArb, mutate, timeBoxed, type FuzzTarget } from '../lib.js'

/**
 * Header bytes outside the Noise messages (type, version, indexes). An on-path attacker can
 * rewrite them; the fuzz only requires that nothing authenticated changed when a mutated
 * datagram is accepted (reported as an observation, not a bug: dropping is as easy).
 */
const INIT_CLEAR_BYTES = 6
const RESPONSE_CLEAR_BYTES = 10

function differsOnlyBefore (a: Buffer, b: Buffer, clearBytes: number): boolean {
  return a.length === b.length && a.subarray(clearBytes).equals(b.subarray(clearBytes))
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
            if (which === 'raw-init' || !differsOnlyBefore(sent, init.datagram, INIT_CLEAR_BYTES)) throw new Error('a forged INIT authenticated')
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
