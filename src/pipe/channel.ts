/**
 * One encrypted session over one TCP connection: the handshake, then sealed frames both ways,
 * keepalives, and key rotation by a fresh in-session handshake. Stream logic lives in the
 * multiplexer above; this layer knows frames, not streams.
 *
 * Receive path: socket chunk -> RecordReader (views, no copy) -> key by epoch -> open in place
 *   -> replay window -> frame -> handler.onFrame (payload is a view into the chunk).
 * Send path: frame -> one buffer with header room -> seal in place -> socket.write.
 */
import type { Socket } from 'node:net'
import { HandshakeInitiator, acceptHandshake, type HandshakeSecrets } from '../crypto/handshake.js'
import { KeyRing } from '../crypto/key-ring.js'
import { TAG_BYTES } from '../crypto/aead.js'
import { ProtocolError, type ErrorKind } from '../errors.js'
import type { Clock } from '../clock.js'
import type { Logger } from '../log.js'
import {
  RecordReader, RecordType, encodeHandshakeRecord, SEALED_HEADER_BYTES, MIN_SEALED_LENGTH, LENGTH_BYTES,
} from './record.js'
import { FRAME_HEADER_BYTES, FrameType, CloseReason, frameName, isAckEliciting, OFFSET_BYTES, writeU64 } from './frame.js'
import { rekeyPrologue } from './hello.js'
import { deriveJoinKey } from './join.js'
import { SendSlab } from './send-slab.js'

const TWO_POW_32 = 2 ** 32
const EMPTY = Buffer.alloc(0)

export interface ChannelHandler {
  /**
   * The handshake completed; `peerPayload` is the other side's handshake payload and `joinKey`
   * the key later subflows of a session prove themselves with (join.ts); the handler owns it.
   */
  onOpen(peerPayload: Buffer, joinKey: Buffer): void
  /** A stream frame or an ACK (other session frames are handled here). `payload` is a view into the received chunk. */
  onFrame(type: FrameType, streamId: number, payload: Buffer): void
  /** An ack-eliciting frame arrived (any but ACK and PONG, including those handled here): schedule an ACK. */
  onEliciting?(): void
  /** The peer sent CLOSE: it ends the whole session (this connection closes next). */
  onPeerClose?(): void
  /** The socket's send buffer drained below its high-water mark. */
  onDrain(): void
  /** The channel is gone; `error` says why when it was not a clean close. */
  onClose(error: Error | undefined): void
}

/** What a responder decides about a client's first message. */
export type HelloDecision =
  | { accept: true, secrets: HandshakeSecrets, psk: Uint8Array, message2: Buffer, peerPayload: Buffer }
  | { accept: false, kind: ErrorKind, reason: string }

export interface ChannelTimings {
  /** Start a key rotation this often (initiator only). */
  rekeyIntervalMs: number
  /** Send a ping when nothing was sent for this long; give up after 3 silent intervals. */
  keepaliveMs: number
  /** How long previous keys still open late records after a rotation. */
  rekeyGraceMs: number
  /** Give up on a handshake (or a rotation) that takes longer than this. */
  handshakeTimeoutMs: number
}

export type ChannelRole =
  | { kind: 'initiator', psk: Uint8Array, prologue: Uint8Array, helloPayload: Uint8Array | ((ephemeralPublicKey: Buffer) => Uint8Array) }
  | { kind: 'responder', decide: (message1: Buffer) => HelloDecision }

export interface ChannelStats {
  recordsIn: number
  recordsOut: number
  bytesIn: number
  bytesOut: number
  rekeys: number
  lastRttMs: number | undefined
  /** Ack-eliciting frames sent and received (frame.ts isAckEliciting): what ACKs count. */
  elicitingOut: number
  elicitingIn: number
}

export class SecureChannel {
  private state: 'handshake' | 'open' | 'closed' = 'handshake'
  private keys: KeyRing | undefined
  private psk: Uint8Array | undefined
  private initiator: HandshakeInitiator | undefined
  private rekeyInitiator: HandshakeInitiator | undefined
  private rekeyStartedMs = 0
  private readonly reader: RecordReader
  private readonly slab = new SendSlab()
  private lastSentMs: number
  private lastReceivedMs: number
  private nextRekeyMs = Infinity
  private timer: NodeJS.Timeout
  private tickMs: number
  private keysSinceMs = 0
  private closeError: Error | undefined
  readonly stats: ChannelStats = { recordsIn: 0, recordsOut: 0, bytesIn: 0, bytesOut: 0, rekeys: 0, lastRttMs: undefined, elicitingOut: 0, elicitingIn: 0 }
  /** The peer ended the whole session with CLOSE (not just this connection). */
  peerClosed = false

  constructor (
    readonly socket: Socket,
    private readonly role: ChannelRole,
    private readonly handler: ChannelHandler,
    private readonly timings: ChannelTimings,
    private readonly clock: Clock,
    private readonly log: Logger,
    readonly label: string,
  ) {
    this.reader = new RecordReader((record) => this.onRecord(record))
    this.lastSentMs = this.lastReceivedMs = clock.now()
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('drain', () => { if (this.state === 'open') handler.onDrain() })
    socket.on('error', (err) => { this.closeError ??= err })
    socket.on('close', () => this.finish())
    socket.on('end', () => {
      if (this.reader.hasPartial) this.closeError ??= new ProtocolError('connection closed in the middle of a record (truncated)', 'malformed')
      else if (this.state === 'handshake') this.closeError ??= new ProtocolError('connection closed during the handshake', 'handshake')
      if (this.state !== 'closed') socket.end()
    })
    this.tickMs = this.tickPeriodMs()
    this.timer = setInterval(() => this.tick(), this.tickMs)
    this.timer.unref()
    if (role.kind === 'initiator') {
      this.psk = role.psk
      this.initiator = new HandshakeInitiator(role.psk, role.prologue, role.helloPayload)
      this.writeRecord(encodeHandshakeRecord(RecordType.Hello, this.initiator.message1))
    }
  }

  private tickPeriodMs (): number {
    const t = this.timings
    return Math.max(25, Math.min(t.keepaliveMs, t.handshakeTimeoutMs, t.rekeyIntervalMs) / 4)
  }

  /**
   * After a runtime change of timings.rekeyIntervalMs (initiator): the next rotation is due that
   * long after the last one (or the start), and the timer ticks often enough to keep it.
   */
  rekeyIntervalChanged (): void {
    if (this.state === 'closed') return
    if (this.role.kind === 'initiator' && this.state === 'open') this.nextRekeyMs = this.keysSinceMs + this.timings.rekeyIntervalMs
    const tickMs = this.tickPeriodMs()
    if (tickMs !== this.tickMs) {
      clearInterval(this.timer)
      this.tickMs = tickMs
      this.timer = setInterval(() => this.tick(), tickMs)
      this.timer.unref()
    }
  }

  get isOpen (): boolean { return this.state === 'open' }
  /** True while the socket's send buffer is over its high-water mark. */
  get isCongested (): boolean { return this.socket.writableNeedDrain }
  get rotations (): number { return this.keys?.rotations ?? 0 }

  /**
   * Seals and sends one frame carrying payload[start, end), preceded by a u64 `offset` when it is
   * >= 0 (DATA, FIN, WINDOW). Returns false when the caller should wait for onDrain.
   */
  sendFrame (type: FrameType, streamId: number, payload: Buffer = EMPTY, start = 0, end = payload.length, offset = -1): boolean {
    if (this.state !== 'open') return false
    const keys = this.keys!
    if (keys.isSendKeyWornOut) {
      this.fail(new ProtocolError('send key exhausted before a rotation completed', 'limit'))
      return false
    }
    const counter = keys.nextSendCounter()
    const prefix = offset >= 0 ? OFFSET_BYTES : 0
    const textEnd = SEALED_HEADER_BYTES + FRAME_HEADER_BYTES + prefix + (end - start)
    const record = this.slab.take(textEnd + TAG_BYTES, this.socket.writableLength === 0)
    record.writeUInt32BE(record.length - LENGTH_BYTES, 0)
    record[4] = RecordType.Sealed
    record[5] = keys.sendEpoch & 0xff
    record.writeUInt32BE(Math.floor(counter / TWO_POW_32), 6)
    record.writeUInt32BE(counter % TWO_POW_32, 10)
    record[SEALED_HEADER_BYTES] = type
    record.writeUInt32BE(streamId, SEALED_HEADER_BYTES + 1)
    if (prefix > 0) writeU64(record, offset, SEALED_HEADER_BYTES + FRAME_HEADER_BYTES)
    if (end > start) {
      // The frame header goes in place; the payload is encrypted straight from the caller's
      // buffer (kept as plaintext until acknowledged), so it is not copied first.
      keys.sendKey.sealFrom(record, 0, SEALED_HEADER_BYTES, SEALED_HEADER_BYTES + FRAME_HEADER_BYTES + prefix, payload, start, end, counter)
    } else {
      keys.sendKey.sealRange(record, 0, SEALED_HEADER_BYTES, textEnd, counter)
    }
    if (isAckEliciting(type)) this.stats.elicitingOut++
    return this.writeRecord(record)
  }

  /** Sends CLOSE and ends the connection once queued data is flushed. */
  close (reason: CloseReason = CloseReason.Normal, detail = ''): void {
    if (this.state === 'closed') return
    if (this.state === 'open') this.sendFrame(FrameType.Close, 0, Buffer.concat([Buffer.from([reason]), Buffer.from(detail)]))
    this.state = 'closed'
    this.socket.end()
    this.socket.setTimeout(this.timings.handshakeTimeoutMs, () => this.socket.destroy())
  }

  /** Drops the connection at once, e.g. on a protocol violation. */
  fail (error: Error): void {
    this.closeError ??= error
    this.socket.destroy()
    this.finish()
  }

  private writeRecord (record: Buffer): boolean {
    this.stats.recordsOut++
    this.stats.bytesOut += record.length
    this.lastSentMs = this.clock.now()
    return this.socket.write(record)
  }

  private onData (chunk: Buffer): void {
    if (this.state === 'closed') return
    this.stats.bytesIn += chunk.length
    try {
      this.reader.push(chunk)
    } catch (err) {
      this.fail(err instanceof Error ? err : new Error(String(err)))
    }
  }

  private onRecord (record: Buffer): void {
    if (this.state === 'closed') return
    this.stats.recordsIn++
    this.lastReceivedMs = this.clock.now()
    const type = record[4]
    if (this.state === 'handshake') return this.onHandshakeRecord(type, record.subarray(5))
    if (type !== RecordType.Sealed) throw new ProtocolError(`unexpected record type ${type} in an open session`, 'malformed')
    if (record.length - LENGTH_BYTES < MIN_SEALED_LENGTH) throw new ProtocolError(`sealed record of ${record.length} bytes is too short`, 'malformed')
    const rx = this.keys!.receiveKey(record[5]!, this.lastReceivedMs)
    if (rx === undefined) throw new ProtocolError(`record under unknown key epoch ${record[5]}`, 'decrypt')
    const counter = record.readUInt32BE(6) * TWO_POW_32 + record.readUInt32BE(10)
    const textEnd = record.length - TAG_BYTES
    if (!rx.key.openRange(record, 0, SEALED_HEADER_BYTES, textEnd, counter)) throw new ProtocolError('record failed authentication', 'decrypt')
    const text = record.subarray(SEALED_HEADER_BYTES, textEnd)
    if (!rx.window.accept(counter)) throw new ProtocolError(`replayed record (counter ${counter})`, 'replay')
    this.keys!.confirmReceive(rx, this.lastReceivedMs)
    const frameType = text[0] as FrameType
    const streamId = text.readUInt32BE(1)
    const payload = text.subarray(FRAME_HEADER_BYTES)
    if (isAckEliciting(frameType)) {
      this.stats.elicitingIn++
      this.handler.onEliciting?.()
    }
    switch (frameType) {
      case FrameType.Ping:
        this.sendFrame(FrameType.Pong, 0, payload)
        return
      case FrameType.Pong:
        if (payload.length === 8) this.stats.lastRttMs = Math.max(0, this.clock.now() - payload.readDoubleBE(0))
        return
      case FrameType.RekeyInit:
        return this.onRekeyInit(payload)
      case FrameType.RekeyReply:
        return this.onRekeyReply(payload)
      case FrameType.Close:
        this.log.debug(`${this.label}: peer closed the session (reason ${payload[0] ?? '?'}${payload.length > 1 ? `: ${payload.subarray(1).toString()}` : ''})`)
        this.peerClosed = true
        this.state = 'closed'
        this.socket.end()
        this.handler.onPeerClose?.()
        return
      case FrameType.Open: case FrameType.Data: case FrameType.Window: case FrameType.Fin: case FrameType.Reset: case FrameType.Ack:
        this.handler.onFrame(frameType, streamId, payload)
        return
      default:
        throw new ProtocolError(`unknown frame type ${frameName(frameType)}`, 'malformed')
    }
  }

  private onHandshakeRecord (type: number | undefined, message: Buffer): void {
    if (this.role.kind === 'responder') {
      if (type !== RecordType.Hello) throw new ProtocolError(`expected a hello, got record type ${type}`, 'handshake')
      const decision = this.role.decide(message)
      if (!decision.accept) {
        this.fail(new ProtocolError(decision.reason, decision.kind))
        return
      }
      this.writeRecord(encodeHandshakeRecord(RecordType.Welcome, decision.message2))
      this.open(decision.secrets, decision.psk, decision.peerPayload)
      return
    }
    if (type !== RecordType.Welcome) throw new ProtocolError(`expected a welcome, got record type ${type}`, 'handshake')
    const done = this.initiator!.finish(message)
    this.initiator = undefined
    if (done === null) throw new ProtocolError('the server\'s handshake reply did not authenticate (wrong key?)', 'handshake')
    this.open(done.secrets, this.psk!, done.payload)
  }

  private open (secrets: HandshakeSecrets, psk: Uint8Array, peerPayload: Buffer): void {
    const isClient = this.role.kind === 'initiator'
    const joinKey = deriveJoinKey(isClient ? secrets.tx : secrets.rx, isClient ? secrets.rx : secrets.tx, secrets.hash)
    this.keys = new KeyRing(secrets, this.timings.rekeyGraceMs)
    this.psk = psk
    this.state = 'open'
    this.keysSinceMs = this.clock.now()
    if (this.role.kind === 'initiator') this.nextRekeyMs = this.keysSinceMs + this.timings.rekeyIntervalMs
    this.socket.setNoDelay(true)
    this.handler.onOpen(peerPayload, joinKey)
    this.sendPing() // a first RTT sample for `show`
  }

  /** Sends a PING now (subflows probe idle connections with it: the peer's ACK proves progress). */
  ping (): void {
    if (this.state === 'open') this.sendPing()
  }

  private startRekey (): void {
    const keys = this.keys!
    this.rekeyInitiator = new HandshakeInitiator(this.psk!, rekeyPrologue(keys.handshakeHash), EMPTY)
    this.rekeyStartedMs = this.clock.now()
    this.sendFrame(FrameType.RekeyInit, 0, this.rekeyInitiator.message1)
  }

  private onRekeyInit (message1: Buffer): void {
    if (this.role.kind !== 'responder') throw new ProtocolError('rekey request sent to the initiator', 'malformed')
    const keys = this.keys!
    const response = acceptHandshake([this.psk!], rekeyPrologue(keys.handshakeHash), message1)
    if (response === null) throw new ProtocolError('rekey handshake did not authenticate', 'handshake')
    const { message2, secrets } = response.reply(EMPTY)
    this.sendFrame(FrameType.RekeyReply, 0, message2) // still under the old keys
    keys.installNext(secrets)
    keys.switchSendKey()
    this.stats.rekeys++
  }

  private onRekeyReply (message2: Buffer): void {
    const initiator = this.rekeyInitiator
    if (initiator === undefined) throw new ProtocolError('unsolicited rekey reply', 'malformed')
    this.rekeyInitiator = undefined
    const done = initiator.finish(message2)
    if (done === null) throw new ProtocolError('rekey reply did not authenticate', 'handshake')
    this.keys!.installNext(done.secrets)
    this.keys!.switchSendKey()
    this.stats.rekeys++
    this.keysSinceMs = this.clock.now()
    this.nextRekeyMs = this.keysSinceMs + this.timings.rekeyIntervalMs
  }

  private tick (): void {
    const now = this.clock.now()
    if (this.state === 'handshake') {
      if (now - this.lastSentMs > this.timings.handshakeTimeoutMs && now - this.lastReceivedMs > this.timings.handshakeTimeoutMs) {
        this.fail(new ProtocolError(`handshake timed out after ${this.timings.handshakeTimeoutMs} ms`, 'handshake'))
      }
      return
    }
    if (this.state !== 'open') return
    if (now - this.lastReceivedMs > 3 * this.timings.keepaliveMs) {
      this.fail(new ProtocolError(`peer silent for ${Math.round(now - this.lastReceivedMs)} ms`, 'malformed'))
      return
    }
    if (this.rekeyInitiator !== undefined && now - this.rekeyStartedMs > this.timings.handshakeTimeoutMs) {
      this.fail(new ProtocolError(`key rotation got no reply within ${this.timings.handshakeTimeoutMs} ms`, 'handshake'))
      return
    }
    if (this.rekeyInitiator === undefined && now >= this.nextRekeyMs) this.startRekey()
    if (now - this.lastSentMs >= this.timings.keepaliveMs) this.sendPing()
    this.keys!.sweep(now)
  }

  private sendPing (): void {
    const ping = Buffer.allocUnsafe(8)
    ping.writeDoubleBE(this.clock.now(), 0)
    this.sendFrame(FrameType.Ping, 0, ping)
  }

  private finish (): void {
    if (this.finished) return
    this.finished = true
    clearInterval(this.timer)
    this.state = 'closed'
    this.keys?.wipe()
    this.keys = undefined
    this.handler.onClose(this.closeError)
  }

  private finished = false
}
