// A pipe session over FakeSockets: a real initiator and responder SecureChannel, each with a Multiplexer.
import { SecureChannel, type HelloDecision, type ChannelTimings } from '../../src/pipe/channel.js'
import { Multiplexer } from '../../src/pipe/mux.js'
import { acceptHandshake } from '../../src/crypto/handshake.js'
import { SESSION_PROLOGUE, HelloPurpose, decodeHello, encodeHello, encodeWelcome } from '../../src/pipe/hello.js'
import { FakeClock } from '../../src/clock.js'
import { silentLogger } from '../../src/log.js'
import { Subflow } from '../../src/pipe/subflow.js'
import { FrameType } from '../../src/pipe/frame.js'
import { FakeSocket } from './fake-socket.js'

// Long enough never to fire under the frozen FakeClock, short enough for a 32-bit setInterval (tick = min / 4).
export const pairTimings: ChannelTimings = { rekeyIntervalMs: 1e9, keepaliveMs: 1e9, rekeyGraceMs: 1000, handshakeTimeoutMs: 1e9 }
export const SERVER_MAX_STREAMS = 16
export const SERVER_WINDOW_BYTES = 65_536
export const SERVER_SESSION_BUFFER_BYTES = 1 << 20

export interface Side {
  channel: SecureChannel
  mux: Multiplexer
  socket: FakeSocket
  /** Stream frames the channel handed up (after authentication; ACKs, which come by themselves, not counted). */
  frames: number
  closed: boolean
  error: Error | undefined
}

/** The responder's decision, as PipeServer.decide makes it (without rate limit and replay guard). */
export function decideWith (psk: Uint8Array, mux: () => Multiplexer): (message1: Buffer) => HelloDecision {
  return (message1) => {
    const response = acceptHandshake([psk], SESSION_PROLOGUE, message1)
    if (response === null) return { accept: false, kind: 'handshake', reason: 'wrong key' }
    let hello
    try { hello = decodeHello(response.payload) } catch (err) { return { accept: false, kind: 'handshake', reason: (err as Error).message } }
    const { message2, secrets } = response.reply(encodeWelcome({ sessionId: Buffer.alloc(8, 1), streamWindowBytes: SERVER_WINDOW_BYTES }))
    mux().setPeerWindow(hello.streamWindowBytes)
    return { accept: true, secrets, psk, message2, peerPayload: response.payload }
  }
}

function side (socket: FakeSocket, connectTarget: boolean, clock: FakeClock, make: (subflow: Subflow, s: Side) => SecureChannel): Side {
  const s = { socket, frames: 0, closed: false, error: undefined } as Side
  const mux = new Multiplexer({
    localWindowBytes: SERVER_WINDOW_BYTES,
    maxStreams: SERVER_MAX_STREAMS,
    sessionBufferBytes: SERVER_SESSION_BUFFER_BYTES,
    retransmitBufferBytes: SERVER_SESSION_BUFFER_BYTES,
    pathTimeoutMs: 1e9,
    subflowStallMs: 1e9,
    probeIntervalMs: 1e9,
    scheduler: 'auto',
    clock,
    log: silentLogger,
    ...(connectTarget ? { connectTarget: () => ({ socket: new FakeSocket().asSocket(), description: 'fake target' }) } : {}),
  }, {
    onClose (_m, error) { s.closed = true; s.error ??= error },
  })
  const subflow = new Subflow({ pathId: 0, label: 'fuzz', preference: 'primary', rateBitsPerSec: 0, weight: 0 }, {
    onOpen (sf) { sf.session = mux; mux.addSubflow(sf) },
    onFrame (sf, type, streamId, payload) { if (type !== FrameType.Ack) s.frames++; mux.onFrame(sf, type, streamId, payload) },
    onDrain () { mux.onDrain() },
    onClose (sf, error) { s.closed = true; s.error ??= error; mux.removeSubflow(sf, error) },
  })
  s.mux = mux
  s.channel = make(subflow, s)
  subflow.attach(s.channel)
  return s
}

export function responder (socket: FakeSocket, psk: Uint8Array, clock = new FakeClock(1)): Side {
  let muxRef: Multiplexer | undefined
  const s = side(socket, true, clock, (subflow) => new SecureChannel(socket.asSocket(), { kind: 'responder', decide: decideWith(psk, () => muxRef!) }, subflow, pairTimings, clock, silentLogger, 'fuzz server'))
  muxRef = s.mux
  return s
}

export function helloPayload (streamWindowBytes = SERVER_WINDOW_BYTES): Buffer {
  return encodeHello({ purpose: HelloPurpose.NewSession, timestamp: Buffer.alloc(12, 3), clientId: Buffer.alloc(16, 4), streamWindowBytes })
}

export function initiator (socket: FakeSocket, psk: Uint8Array, clock = new FakeClock(1)): Side {
  return side(socket, false, clock, (subflow) => new SecureChannel(socket.asSocket(), { kind: 'initiator', psk, prologue: SESSION_PROLOGUE, helloPayload: helloPayload() }, subflow, pairTimings, clock, silentLogger, 'fuzz client'))
}

/** Runs every pending delivery (microtasks) and what they trigger. */
export async function settle (): Promise<void> {
  await new Promise<void>((resolve) => setImmediate(resolve))
}

/** A connected pair with the handshake done, over FakeSockets. */
export async function pipePair (psk: Uint8Array): Promise<{ client: Side, server: Side }> {
  const [a, b] = FakeSocket.pair()
  const server = responder(b, psk)
  const client = initiator(a, psk)
  await settle()
  if (!client.channel.isOpen || !server.channel.isOpen) throw new Error('fixture: pipe handshake did not complete')
  return { client, server }
}
