// A responder SecureChannel fed mutated hello records, raw bytes, and garbage after a good hello.
import fc from 'fast-check'
import { ProtocolError } from '../../../src/errors.js'
import { HandshakeInitiator } from '../../../src/crypto/handshake.js'
import { generateKey } from '../../../src/crypto/key.js'
import { encodeHandshakeRecord, RecordType } from '../../../src/pipe/record.js'
import { SESSION_PROLOGUE } from '../../../src/pipe/hello.js'
import { FakeSocket } from '../fake-socket.js'
import { helloPayload, pipePair, responder, settle, type Side } from '../pipe-pair.js'
import { chunked, nearValidBytes, type FuzzTarget } from '../lib.js'

const TIME_LIMIT_MS = 1000

export const pipeChannelTarget: FuzzTarget = {
  name: 'pipe-channel',
  about: 'responder SecureChannel on raw/mutated handshake bytes: no escape, fails only with ProtocolError, opens only on an intact hello; a good session alongside still works',
  slow: true,
  async create () {
    const psk = generateKey()
    const hellos = Array.from({ length: 8 }, (_, i) => encodeHandshakeRecord(RecordType.Hello, new HandshakeInitiator(psk, SESSION_PROLOGUE, helloPayload(4096 + i)).message1))
    const good = await pipePair(psk)
    let goodFrames = 0
    const sides: Side[] = []
    const property = fc.asyncProperty(nearValidBytes(fc.constantFrom(...hellos), 400), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), async ({ original, input }, cuts, endAfter) => {
      const started = performance.now()
      const [a, b] = FakeSocket.pair()
      const server = responder(b, psk)
      sides.push(server)
      for (const chunk of chunked(input, cuts)) a.write(chunk)
      if (endAfter) a.end()
      await settle()
      if (server.channel.isOpen) {
        if (original === undefined || input.length < original.length || !input.subarray(0, original.length).equals(original)) throw new Error('a session opened on a forged hello')
      }
      if (server.error !== undefined && !(server.error instanceof ProtocolError)) throw new Error(`failed with ${server.error.name}: ${server.error.message}`)
      server.channel.fail(new ProtocolError('fuzz input done'))
      a.destroy()
      await settle()
      if (!server.closed) throw new Error('the channel did not close')
      // The good session alongside still carries frames.
      good.client.channel.sendFrame(3 /* WINDOW */, 12345, Buffer.alloc(8))
      await settle()
      goodFrames++
      if (good.server.frames !== goodFrames) throw new Error('the good session stopped carrying frames')
      const tookMs = performance.now() - started
      if (tookMs > TIME_LIMIT_MS) throw new Error(`input took ${tookMs.toFixed(0)} ms`)
      sides.length = 0
    })
    return {
      property,
      close: () => { good.client.channel.fail(new Error('done')); for (const s of sides) s.channel.fail(new Error('done')) },
    }
  },
}
