// decodeHello / decodeWelcome: mutated real payloads and raw bytes.
import fc from 'fast-check'
import { ProtocolError } from '../../../src/errors.js'
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, HelloPurpose } from '../../../src/pipe/hello.js'
import { nearValidBytes, timeBoxed, type FuzzTarget } from '../lib.js'

const helloArb = fc.record({
  timestamp: fc.uint8Array({ minLength: 12, maxLength: 12 }),
  clientId: fc.uint8Array({ minLength: 16, maxLength: 16 }),
  streamWindowBytes: fc.integer({ min: 4096, max: 0xffffffff }),
}).map((h) => encodeHello({ purpose: HelloPurpose.NewSession, timestamp: Buffer.from(h.timestamp), clientId: Buffer.from(h.clientId), streamWindowBytes: h.streamWindowBytes }))
const welcomeArb = fc.record({
  sessionId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
  streamWindowBytes: fc.integer({ min: 4096, max: 0xffffffff }),
}).map((w) => encodeWelcome({ sessionId: Buffer.from(w.sessionId), streamWindowBytes: w.streamWindowBytes }))

export const pipeHelloTarget: FuzzTarget = {
  name: 'pipe-hello',
  about: 'decodeHello/decodeWelcome: only ProtocolError; what is accepted re-encodes to the same bytes',
  create () {
    const property = fc.property(fc.boolean(), nearValidBytes(helloArb, 64), nearValidBytes(welcomeArb, 64), (isHello, h, w) => {
      timeBoxed(() => {
        try {
          if (isHello) {
            const hello = decodeHello(h.input)
            if (hello.streamWindowBytes < 4096) throw new Error('window below 4096 accepted')
            if (!encodeHello(hello).equals(h.input)) throw new Error('accepted hello is not canonical')
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
