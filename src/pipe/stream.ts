/**
 * One TCP connection carried as a stream of a session: data both ways under per-stream flow
 * control, half-close in each direction, and reset. A slow reader only exhausts its own
 * stream's credit: the sender pauses that one local socket, never the session.
 */
import type { Socket } from 'node:net'
import { FrameType, ResetReason } from './frame.js'
import { MAX_FRAME_PAYLOAD_BYTES } from './record.js'
import { ProtocolError } from '../errors.js'

/** What a stream needs from its session. */
export interface StreamLink {
  /** Seals and sends a frame; false when the session's send buffer is full. */
  sendFrame(type: FrameType, streamId: number, payload?: Buffer, start?: number, end?: number): boolean
  /** True while the session's send buffer is full. */
  readonly isCongested: boolean
  /** Calls stream.onSessionDrain() once the session's send buffer drains. */
  waitForDrain(stream: MuxStream): void
  /** The stream is finished; forget it. */
  streamClosed(stream: MuxStream, reason: string | undefined): void
  /** The peer broke the protocol: drop the session. */
  protocolError(error: ProtocolError): void
  /** Received bytes now held in memory until the local socket takes them (session-wide budget). */
  holdReceived(bytes: number): void
  /** Those bytes left memory (written out, or dropped with the socket). */
  releaseReceived(bytes: number): void
}

export interface StreamCounters {
  bytesIn: number
  bytesOut: number
}

export class MuxStream {
  /** Bytes we may still send before the peer grants more. */
  private sendCreditBytes: number
  /** Bytes the peer may still send us. */
  private receiveCreditBytes: number
  /** Bytes written out locally since our last WINDOW grant. */
  private flushedSinceGrantBytes = 0
  /** Bytes read locally that wait for credit. */
  private pending: Buffer | null = null
  private localEnded = false
  private finSent = false
  private finReceived = false
  private resetReceived = false
  private closed = false
  /** The local socket finished both ways while its last bytes still wait for credit. */
  private socketGone = false
  /** False while a server-side target connection is still being made. */
  private connected: boolean
  private error: Error | undefined
  readonly counters: StreamCounters = { bytesIn: 0, bytesOut: 0 }

  constructor (
    readonly id: number,
    readonly socket: Socket,
    private readonly link: StreamLink,
    peerWindowBytes: number,
    private readonly localWindowBytes: number,
    /** For log lines: what the local socket is (e.g. the target's address). */
    readonly description: string,
  ) {
    this.connected = !socket.connecting
    if (!this.connected) socket.once('connect', () => { this.connected = true })
    this.sendCreditBytes = peerWindowBytes
    this.receiveCreditBytes = localWindowBytes
    socket.on('data', (chunk: Buffer) => this.onLocalData(chunk))
    socket.on('end', () => this.onLocalEnd())
    socket.on('error', (err) => { this.error ??= err })
    socket.on('close', () => this.onLocalClose())
    // A connection held while the session came up may have half-closed already (an empty request).
    if (socket.readableEnded) queueMicrotask(() => this.onLocalEnd())
  }

  /** The local side's error, if any (e.g. the target refused the connection). */
  get localError (): Error | undefined { return this.error }

  // ---- local socket -> peer

  private onLocalData (chunk: Buffer): void {
    this.counters.bytesOut += chunk.length
    if (this.pending !== null) {
      this.pending = Buffer.concat([this.pending, chunk])
      this.socket.pause()
      return
    }
    this.send(chunk)
  }

  private send (chunk: Buffer): void {
    let offset = 0
    while (offset < chunk.length && this.sendCreditBytes > 0) {
      const end = offset + Math.min(chunk.length - offset, this.sendCreditBytes, MAX_FRAME_PAYLOAD_BYTES)
      this.link.sendFrame(FrameType.Data, this.id, chunk, offset, end)
      this.sendCreditBytes -= end - offset
      offset = end
    }
    if (offset < chunk.length) {
      this.pending = offset === 0 ? chunk : chunk.subarray(offset)
      this.socket.pause()
    } else if (this.link.isCongested) {
      this.socket.pause()
      this.link.waitForDrain(this)
    }
  }

  private onLocalEnd (): void {
    this.localEnded = true
    if (this.pending === null) this.sendFin()
  }

  private sendFin (): void {
    if (this.finSent || this.closed) return
    this.finSent = true
    this.link.sendFrame(FrameType.Fin, this.id)
    if (this.socketGone) this.finishClean()
  }

  /** The session drained: read from the local socket again unless we wait for credit. */
  onSessionDrain (): void {
    if (this.pending === null && !this.closed) this.socket.resume()
  }

  // ---- peer -> local socket

  onFrame (type: FrameType, payload: Buffer): void {
    switch (type) {
      case FrameType.Data: return this.onPeerData(payload)
      case FrameType.Window: return this.onPeerWindow(payload)
      case FrameType.Fin: return this.onPeerFin()
      case FrameType.Reset: return this.onPeerReset(payload)
      default: this.link.protocolError(new ProtocolError(`unexpected frame ${type} on stream ${this.id}`, 'malformed'))
    }
  }

  private onPeerData (payload: Buffer): void {
    if (payload.length > this.receiveCreditBytes) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: peer sent ${payload.length} bytes with ${this.receiveCreditBytes} of credit`, 'limit'))
      return
    }
    if (this.finReceived) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: data after FIN`, 'malformed'))
      return
    }
    this.receiveCreditBytes -= payload.length
    this.counters.bytesIn += payload.length
    if (this.socket.destroyed) return
    const length = payload.length
    this.link.holdReceived(length)
    this.socket.write(payload, () => this.onFlushed(length))
  }

  /** Grants credit back once a quarter of the window has left for the local socket. */
  private onFlushed (length: number): void {
    this.link.releaseReceived(length)
    this.flushedSinceGrantBytes += length
    if (this.closed || this.flushedSinceGrantBytes < this.localWindowBytes / 4) return
    const grant = Buffer.allocUnsafe(4)
    grant.writeUInt32BE(this.flushedSinceGrantBytes, 0)
    this.receiveCreditBytes += this.flushedSinceGrantBytes
    this.flushedSinceGrantBytes = 0
    this.link.sendFrame(FrameType.Window, this.id, grant)
  }

  private onPeerWindow (payload: Buffer): void {
    if (payload.length !== 4) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: WINDOW of ${payload.length} bytes`, 'malformed'))
      return
    }
    this.sendCreditBytes += payload.readUInt32BE(0)
    const pending = this.pending
    if (pending === null) return
    this.pending = null
    this.send(pending)
    if (this.pending === null) {
      if (this.localEnded) this.sendFin()
      else if (!this.link.isCongested) this.socket.resume()
    }
  }

  private onPeerFin (): void {
    this.finReceived = true
    if (!this.socket.destroyed) this.socket.end()
  }

  private onPeerReset (payload: Buffer): void {
    this.resetReceived = true
    const reason = payload[0]
    const detail = payload.length > 1 ? payload.subarray(1).toString('utf8') : ''
    this.error ??= new Error(reason === ResetReason.ConnectFailed ? `target unreachable: ${detail}` : `reset by peer${detail ? `: ${detail}` : ''}`)
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  private finishClean (): void {
    this.closed = true
    this.link.streamClosed(this, undefined)
  }

  /** The session is gone: drop the local connection without telling the (dead) peer. */
  abort (): void {
    this.resetReceived = true
    if (!this.socket.destroyed) this.socket.resetAndDestroy()
  }

  private onLocalClose (): void {
    if (this.closed || this.socketGone) return
    if (this.localEnded && this.finReceived && !this.finSent && this.error === undefined && !this.resetReceived) {
      // An orderly close, but what the local side sent still waits for credit: finish sending it.
      this.socketGone = true
      return
    }
    this.closed = true
    const clean = this.finSent && this.finReceived
    if (!clean && !this.resetReceived) {
      const reason = this.connected ? ResetReason.Aborted : ResetReason.ConnectFailed
      const detail = this.error?.message ?? 'closed before half-close'
      this.link.sendFrame(FrameType.Reset, this.id, Buffer.concat([Buffer.from([reason]), Buffer.from(detail.slice(0, 200))]))
    }
    this.link.streamClosed(this, clean ? undefined : (this.error?.message ?? (this.resetReceived ? 'reset by peer' : 'closed before both sides finished')))
  }
}
