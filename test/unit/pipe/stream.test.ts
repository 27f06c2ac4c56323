// MuxStream's state machine against a fake socket and a recording link: exact frames for
// credit, half-close and reset orderings that are hard to force with real sockets.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'
import { MuxStream, type StreamLink } from '../../../src/pipe/stream.js'
import { FrameType, writeU64 } from '../../../src/pipe/frame.js'
import type { ProtocolError } from '../../../src/errors.js'

class FakeSocket extends EventEmitter {
  connecting = false
  destroyed = false
  paused = false
  ended = false
  written: Buffer[] = []
  pause (): this { this.paused = true; return this }
  resume (): this { this.paused = false; return this }
  write (data: Buffer, cb?: () => void): boolean { this.written.push(Buffer.from(data)); cb?.(); return true }
  end (): this { this.ended = true; return this }
  resetAndDestroy (): this { this.destroyed = true; this.emit('close'); return this }
}

class RecordingLink implements StreamLink {
  frames: Array<{ type: FrameType, data: string }> = []
  offsets: number[] = []
  closed: Array<string | undefined> = []
  errors: ProtocolError[] = []
  isCongested = false
  held = 0
  sendStreamFrame (type: FrameType, _id: number, offset: number, payload?: Buffer, start = 0, end = payload?.length ?? 0): void {
    this.frames.push({ type, data: payload ? payload.subarray(start, end).toString('latin1') : '' })
    this.offsets.push(offset)
  }
  waitForDrain (): void {}
  streamClosed (_s: MuxStream, reason: string | undefined): void { this.closed.push(reason) }
  protocolError (e: ProtocolError): void { this.errors.push(e) }
  holdReceived (n: number): void { this.held += n }
  releaseReceived (n: number): void { this.held -= n }
}

function setup (peerWindow: number, localWindow = 64) {
  const socket = new FakeSocket()
  const link = new RecordingLink()
  const stream = new MuxStream(1, socket as unknown as Socket, link, peerWindow, localWindow, 'test')
  return { socket, link, stream }
}

/** WINDOW, FIN: a u64; DATA: a u64 offset, then the bytes. */
const u64 = (n: number): Buffer => { const b = Buffer.alloc(8); writeU64(b, n, 0); return b }
const window = u64
const fin = u64
const data = (offset: number, bytes: Buffer): Buffer => Buffer.concat([u64(offset), bytes])

test('data beyond credit waits; WINDOW releases it in order', () => {
  const { socket, link, stream } = setup(10)
  socket.emit('data', Buffer.from('abcdefghijklmnopqrstuvwxy'))
  assert.deepEqual(link.frames, [{ type: FrameType.Data, data: 'abcdefghij' }])
  assert.equal(socket.paused, true)
  stream.onFrame(FrameType.Window, window(15))
  stream.onFrame(FrameType.Window, window(12)) // stale: the largest limit counts
  stream.onFrame(FrameType.Window, window(100))
  assert.deepEqual(link.frames.map((f) => f.data), ['abcdefghij', 'klmno', 'pqrstuvwxy'])
  assert.deepEqual(link.offsets, [0, 10, 15])
  assert.equal(socket.paused, false)
})

test('regression: the local side closes in order while its last bytes wait for credit', () => {
  const { socket, link, stream } = setup(10)
  stream.onFrame(FrameType.Fin, fin(0)) // the peer finished first, having sent nothing
  assert.equal(socket.ended, true)
  socket.emit('data', Buffer.from('0123456789ABCDE'))
  socket.emit('end')
  socket.emit('close')
  assert.deepEqual(link.frames.map((f) => f.type), [FrameType.Data], 'no RESET, no FIN before the data')
  assert.deepEqual(link.closed, [])
  stream.onFrame(FrameType.Window, window(74))
  assert.deepEqual(link.frames, [
    { type: FrameType.Data, data: '0123456789' },
    { type: FrameType.Data, data: 'ABCDE' },
    { type: FrameType.Fin, data: '' },
  ])
  assert.deepEqual(link.closed, [undefined], 'finished cleanly')
})

test('FIN waits for pending data; a close after both FINs is clean', () => {
  const { socket, link, stream } = setup(4)
  socket.emit('data', Buffer.from('abcdef'))
  socket.emit('end')
  assert.deepEqual(link.frames.map((f) => f.type), [FrameType.Data])
  stream.onFrame(FrameType.Window, window(6))
  assert.deepEqual(link.frames.map((f) => f.type), [FrameType.Data, FrameType.Data, FrameType.Fin])
  assert.equal(link.offsets[2], 6, 'FIN carries the final size')
  stream.onFrame(FrameType.Fin, fin(0))
  socket.emit('close')
  assert.deepEqual(link.closed, [undefined])
})

test('an abrupt local close sends RESET with the reason', () => {
  const { socket, link } = setup(100)
  socket.emit('error', new Error('read ECONNRESET'))
  socket.emit('close')
  assert.equal(link.frames[0]!.type, FrameType.Reset)
  assert.match(link.frames[0]!.data, /ECONNRESET/)
  assert.deepEqual(link.closed, ['read ECONNRESET'])
})

test('a peer RESET destroys the local socket without echoing a RESET', () => {
  const { socket, link, stream } = setup(100)
  stream.onFrame(FrameType.Reset, Buffer.from([2, ...Buffer.from('connect ECONNREFUSED')]))
  assert.equal(socket.destroyed, true)
  assert.deepEqual(link.frames, [])
  assert.match(link.closed[0]!, /target unreachable: connect ECONNREFUSED/)
})

test('receiving: the window is enforced, grants follow the local writes, data beyond the final size is an error', () => {
  const { socket, link, stream } = setup(100, 64)
  stream.onFrame(FrameType.Data, data(0, Buffer.alloc(16, 1)))
  assert.deepEqual(link.frames.map((f) => f.type), [FrameType.Window], 'a quarter of the window written: grant it')
  assert.equal(link.offsets[0], 16 + 64, 'the grant is an absolute offset')
  stream.onFrame(FrameType.Data, data(16, Buffer.alloc(8, 2)))
  assert.equal(socket.written.length, 2)
  assert.equal(link.held, 0)
  stream.onFrame(FrameType.Data, data(24, Buffer.alloc(57, 3)))
  assert.equal(link.errors.length, 1, 'beyond the window')
  stream.onFrame(FrameType.Fin, fin(24))
  stream.onFrame(FrameType.Data, data(24, Buffer.alloc(1)))
  assert.equal(link.errors.length, 2, 'beyond the final size')
})

test('receiving out of order: held until the gap fills, duplicates dropped, FIN ends only after every byte', () => {
  const { socket, stream } = setup(100, 64)
  stream.onFrame(FrameType.Data, data(4, Buffer.from('efgh')))
  stream.onFrame(FrameType.Fin, fin(8))
  assert.equal(socket.written.length, 0)
  assert.equal(socket.ended, false)
  stream.onFrame(FrameType.Data, data(0, Buffer.from('abcd')))
  stream.onFrame(FrameType.Data, data(0, Buffer.from('abcd')))
  stream.onFrame(FrameType.Data, data(4, Buffer.from('efgh')))
  assert.equal(Buffer.concat(socket.written).toString(), 'abcdefgh')
  assert.equal(socket.ended, true)
})
