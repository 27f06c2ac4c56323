// readFeedback: mutated real feedback messages and raw bytes, at random offsets.
import fc from 'fast-check'
import { readFeedback, writeFeedback, feedbackBytes } from '../../../src/vpn/messages.js'
import { createFeedback } from '../../../src/multipath/index.js'
import { MAX_NACKS_PER_FEEDBACK } from '../../../src/multipath/constants.js'
import { nearValidBytes, timeBoxed, type FuzzTarget } from '../lib.js'

const u32 = fc.integer({ min: 0, max: 0xffffffff })
const feedbackArb = fc.record({
  about: fc.integer({ min: 0, max: 255 }),
  nacks: fc.array(u32, { maxLength: MAX_NACKS_PER_FEEDBACK }),
  highestSeq: u32, receivedPackets: u32, receivedBytes: fc.double(), echoSeq: u32,
  echoTxTimeMs: fc.double(), echoRxTimeMs: fc.double(), ackDelayMs: fc.float(),
}).map((f) => {
  const fb = createFeedback()
  Object.assign(fb, { highestSeq: f.highestSeq, receivedPackets: f.receivedPackets, receivedBytes: f.receivedBytes, echoSeq: f.echoSeq, echoTxTimeMs: f.echoTxTimeMs, echoRxTimeMs: f.echoRxTimeMs, ackDelayMs: f.ackDelayMs, nackCount: f.nacks.length })
  f.nacks.forEach((n, i) => { fb.nacks[i] = n })
  const buf = Buffer.alloc(feedbackBytes(MAX_NACKS_PER_FEEDBACK))
  const length = writeFeedback(buf, 0, 0, f.about, fb)
  return buf.subarray(0, length)
})

export const vpnFeedbackTarget: FuzzTarget = {
  name: 'vpn-feedback',
  about: 'readFeedback: never throws, returns -1 or the about-path byte, never reads more nacks than allowed',
  create () {
    const out = createFeedback()
    const property = fc.property(nearValidBytes(feedbackArb, 600), fc.integer({ min: 0, max: 32 }), fc.integer({ min: 0, max: 2 ** 40 }), ({ input }, at, nextSeq) => {
      const buf = Buffer.concat([Buffer.alloc(at, 0xee), input])
      const about = timeBoxed(() => readFeedback(buf, at, input.length, nextSeq, out))
      if (about === -1) return
      if (!Number.isInteger(about) || about < 0 || about > 255) throw new Error(`about path ${about}`)
      if (out.nackCount > MAX_NACKS_PER_FEEDBACK || feedbackBytes(out.nackCount) > input.length) throw new Error(`${out.nackCount} nacks in ${input.length} bytes`)
      for (const v of [out.highestSeq, out.echoSeq, ...out.nacks.slice(0, out.nackCount)]) {
        if (!Number.isSafeInteger(v)) throw new Error(`sequence ${v} is not an integer`)
      }
    })
    return { property }
  },
}
