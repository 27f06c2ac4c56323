// decodeHello / decodeWelcome: mutated real payloads (new-session and join hellos) and raw bytes;
// an accepted join hello's proof is checked against a session's join key, as the server does.
import fc from 'fast-check'
import { ProtocolError } from '../../../src/errors.js'
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, HelloPurpose, JOIN_PROOF_BYTES, SESSION_ID_BYTES } from '../../../src/pipe/hello.js'
import { isValidJoinProof, joinProof } from '../../../src/pipe/join.js'
import { nearValidBytes, timeBoxed, type FuzzTarget } from '../lib.js'

/** One session's join key and the ephemeral key of the handshake a join arrives in. */
const JOIN_KEY = Buffer.alloc(32, 0x5a)
const EPHEMERAL = Buffer.alloc(32, 0xa5)

const common = {
  timestamp: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  clientId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  streamWindowBytes: fc.integer({ min: 4096, max: 0xffffffff }),
}
const newSessionArb = fc.record(common).map((h) => encodeHello({ purpose: HelloPurpose.NewSession, timestamp: Buffer.from(h.timestamp), clientId: Buffer.from(h.clientId), streamWindowBytes: h.streamWindowBytes }))
// Joins with a valid proof under JOIN_KEY (so mutations start from what the server accepts) or a random one.
const joinArb = fc.record({
  ...common,
  sessionId: fc.uint8Array({ minLength: SESSION_ID_BYTES, maxLength: SESSION_ID_BYTES }),
  pathId: fc.integer({ min: 0, max: 255 }),
  proof: fc.option(fc.uint8Array({ minLength: JOIN_PROOF_BYTES, maxLength: JOIN_PROOF_BYTES })),
}).map((h) => {
  const sessionId = Buffer.from(h.sessionId)
  const timestamp = Buffer.from(h.timestamp)
  const proof = h.proof === null ? joinProof(JOIN_KEY, sessionId, h.pathId, timestamp, EPHEMERAL) : Buffer.from(h.proof)
  return encodeHello({ purpose: HelloPurpose.JoinSession, timestamp, clientId: Buffer.from(h.clientId), streamWindowBytes: h.streamWindowBytes, join: { sessionId, pathId: h.pathId, proof } })
})
const helloArb = fc.oneof(newSessionArb, joinArb)
const welcomeArb = fc.record({
  sessionId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  streamWindowBytes: fc.integer({ min: 4096, max: 0xffffffff }),
}).map((w) => encodeWelcome({ sessionId: Buffer.from(w.sessionId), streamWindowBytes: w.streamWindowBytes }))

export const pipeHelloTarget: FuzzTarget = {
  name: 'pipe-hello',
  about: 'decodeHello (new-session and join)/decodeWelcome: only ProtocolError; what is accepted re-encodes to the same bytes; a join proof holds only for the bytes it was made over',
  create () {
    const property = fc.property(fc.boolean(), nearValidBytes(helloArb, 64), nearValidBytes(welcomeArb, 64), (isHello, h, w) => {
      timeBoxed(() => {
        try {
          if (isHello) {
            const hello = decodeHello(h.input)
            if (hello.streamWindowBytes < 4096) throw new Error('window below 4096 accepted')
            if (!encodeHello(hello).equals(h.input)) throw new Error('accepted hello is not canonical')
            if (hello.purpose === HelloPurpose.JoinSession) {
              const join = hello.join
              if (join === undefined) throw new Error('a join hello decoded without its join request')
              const valid = isValidJoinProof(JOIN_KEY, join.sessionId, join.pathId, hello.timestamp, EPHEMERAL, join.proof)
              const expected = joinProof(JOIN_KEY, join.sessionId, join.pathId, hello.timestamp, EPHEMERAL).equals(join.proof)
              if (valid !== expected) throw new Error(`join proof judged ${String(valid)}, recomputed ${String(expected)}`)
            }
          } else {
            const welcome = decodeWelcome(w.input)
            if (welcome.streamWindowBytes < 4096) throw new Error('window below 4096 accepted')
            if (!encodeWelcome(welcome).equals(w.input)) throw new Error('accepted welcome is not canonical')
          }
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
        }
      })
    })
    return { property }
  },
}
