// Authenticated garbage into a responder: frames sealed with the right keys (random types, stream
// ids, payloads), sealed records with mutations, and raw bytes after the handshake.
import fc from 'fast-check'
import { ProtocolError } from '../../../src/errors.js'
import { generateKey } from '../../../src/crypto/key.js'
import { MAX_FRAME_PAYLOAD_BYTES } from '../../../src/pipe/record.js'
import { pipePair, settle, SERVER_MAX_STREAMS, SERVER_SESSION_BUFFER_BYTES, SERVER_WINDOW_BYTES, type Side } from '../pipe-pair.js'
import { mutationArb, mutate, type FuzzTarget } from '../lib.js'

const TIME_LIMIT_MS = 1000

/**
 * Known, reported (test/unit/fuzz-regressions.test.ts): a sealed record whose counter field is
 * 2^53 or more makes the native AEAD throw a RangeError before authentication, so the session
 * fails with a RangeError instead of a ProtocolError of kind 'decrypt' (and is not counted).
 */
/** Was a known bug (a counter >= 2^53 threw); fixed in 3365717, so no input is skipped now. */
export function hitsKnownCounterBug (_bytes: Buffer): boolean {
  return false
}

const frameArb = fc.record({
  type: fc.oneof({ arbitrary: fc.integer({ min: 1, max: 11 }), weight: 8 }, { arbitrary: fc.integer({ min: 0, max: 255 }), weight: 1 }),
  streamId: fc.oneof(fc.integer({ min: 0, max: 20 }), fc.integer({ min: 0, max: 0xffffffff })),
  payload: fc.oneof(
    { arbitrary: fc.uint8Array({ maxLength: 16 }), weight: 3 },
    // DATA, FIN, WINDOW and ACK carry a u64 first: offsets near and past the window, and huge ones.
    {
      arbitrary: fc.tuple(fc.oneof(fc.integer({ min: 0, max: SERVER_WINDOW_BYTES + 16 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.constant(2 ** 53)), fc.uint8Array({ maxLength: 16 }))
        .map(([offset, bytes]) => { const b = Buffer.alloc(8 + bytes.length); b.writeUInt32BE(Math.floor(offset / 2 ** 32), 0); b.writeUInt32BE(offset % 2 ** 32, 4); b.set(bytes, 8); return new Uint8Array(b) }),
      weight: 4,
    },
    { arbitrary: fc.constantFrom(0, 1, 4096, SERVER_WINDOW_BYTES, SERVER_WINDOW_BYTES + 1, MAX_FRAME_PAYLOAD_BYTES).map((n) => new Uint8Array(n)), weight: 1 },
  ),
})

export const pipeFramesTarget: FuzzTarget = {
  name: 'pipe-frames',
  about: 'sealed frames with the right keys (random type/stream/payload) and mutated sealed records: no escape, only ProtocolError, a changed record is never accepted, streams and buffers stay bounded',
  slow: true,
  async create () {
    const psk = generateKey()
    let pair = await pipePair(psk)
    const good = await pipePair(psk)
    let goodFrames = 0
    const all: Side[] = [good.client, good.server]
    let sessions = 1
    const property = fc.asyncProperty(
      fc.constantFrom('frames', 'frames', 'mutated', 'raw'),
      fc.array(frameArb, { minLength: 1, maxLength: 6 }),
      fc.array(mutationArb, { minLength: 1, maxLength: 3 }),
      fc.uint8Array({ maxLength: 200 }),
      async (mode, frames, mutations, raw) => {
        const started = performance.now()
        if (pair.server.closed || pair.client.closed || !pair.server.channel.isOpen) {
          pair.client.channel.fail(new Error('next'))
          pair.server.channel.fail(new Error('next'))
          await settle()
          pair = await pipePair(psk)
          sessions++
        }
        const { client, server } = pair
        all.push(client, server)
        if (mode === 'frames') {
          for (const f of frames) client.channel.sendFrame(f.type, f.streamId, Buffer.from(f.payload))
        } else if (mode === 'mutated') {
          const f = frames[0]!
          let record: Buffer | undefined
          client.socket.tap = (bytes) => { record = bytes }
          client.channel.sendFrame(f.type, f.streamId, Buffer.from(f.payload))
          client.socket.tap = undefined
          const changed = mutate(record!, mutations)
          const before = server.frames
          if (hitsKnownCounterBug(changed)) {
            client.channel.fail(new Error('next'))
            await settle()
            return
          }
          const sent = Buffer.from(changed) // the channel opens records in place
          server.socket.receive(changed)
          await settle()
          if (!sent.equals(record!)) {
            // Bytes appended after an intact record are the next (partial or broken) record.
            const intact = sent.length >= record!.length && sent.subarray(0, record!.length).equals(record!)
            if (server.frames !== before && !intact) throw new Error('a changed sealed record was accepted')
            // Whatever happened to it, the session cannot go on: the counter or the stream is broken.
            client.channel.fail(new Error('next'))
          }
        } else {
          if (hitsKnownCounterBug(Buffer.from(raw))) return
          server.socket.receive(Buffer.from(raw))
        }
        await settle()
        if (server.error !== undefined && !(server.error instanceof ProtocolError)) throw new Error(`server failed with ${server.error.name}: ${server.error.message}`)
        if (server.mux.streams.size > SERVER_MAX_STREAMS) throw new Error(`${server.mux.streams.size} streams`)
        if (server.mux.bufferedBytes < 0 || server.mux.bufferedBytes > SERVER_SESSION_BUFFER_BYTES + SERVER_MAX_STREAMS * SERVER_WINDOW_BYTES) throw new Error(`${server.mux.bufferedBytes} bytes held`)
        good.client.channel.sendFrame(3 /* WINDOW */, 54321, Buffer.alloc(8))
        await settle()
        goodFrames++
        if (good.server.frames !== goodFrames) throw new Error('the good session stopped carrying frames')
        const tookMs = performance.now() - started
        if (tookMs > TIME_LIMIT_MS) throw new Error(`input took ${tookMs.toFixed(0)} ms`)
        all.length = 2
      })
    return {
      property,
      after: () => { if (sessions < 1) throw new Error('no session') },
      close: async () => { for (const s of [...all, pair.client, pair.server]) s.channel.fail(new Error('done')); await settle() },
    }
  },
}
