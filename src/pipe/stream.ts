/**
 * One TCP connection carried as a stream of a session: data both ways under per-stream flow
 * control, half-close in each direction, and reset. A slow reader only exhausts its own
 * stream's credit: the sender pauses that one local socket, never the session.
 *
 * Frames are order-independent (they may come over different subflows): DATA carries its stream
 * offset and is put back in order by a Reassembler, FIN carries the final size, WINDOW the
 * absolute offset the peer may send up to (the largest wins), so duplicates and reordering are
 * harmless.
 */
import type { Socket } from 'node:net'
import { FrameType, ResetReason, OFFSET_BYTES, readU64 } from './frame.js'
import { MAX_FRAME_PAYLOAD_BYTES } from './record.js'
import { ProtocolError } from '../errors.js'
import { Reassembler } from './reassembly.js'

/** What a stream needs from its session. */
export interface StreamLink {
  /**
   * Sends a stream frame reliably (kept until acknowledged, re-sent if its subflow is lost).
   * `offset`: DATA's first byte, FIN's final size, WINDOW's max offset; -1 for OPEN and RESET.
   */
  sendStreamFrame(type: FrameType, streamId: number, offset: number, payload?: Buffer, start?: number, end?: number): void
  /** True while the session cannot take more data now (subflows' send buffers or the retransmit buffer full). */
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
  /** Stream offset of the next byte we send, and the offset the peer lets us send up to. */
  private sentOffset = 0
  private peerMaxOffset: number
  /** The offset we let the peer send up to (our last WINDOW, or the initial window). */
  private receiveLimit: number
  /** Bytes written out locally; a WINDOW goes out once a quarter window was written since the last. */
  private flushedOffset = 0
  private readonly reassembly = new Reassembler()
  /** From the peer's FIN; -1 until then. */
  private finalSize = -1
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
    this.peerMaxOffset = peerWindowBytes
    this.receiveLimit = localWindowBytes
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
    while (offset < chunk.length && this.peerMaxOffset > this.sentOffset) {
      const end = offset + Math.min(chunk.length - offset, this.peerMaxOffset - this.sentOffset, MAX_FRAME_PAYLOAD_BYTES)
      this.link.sendStreamFrame(FrameType.Data, this.id, this.sentOffset, chunk, offset, end)
      this.sentOffset += end - offset
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
    this.link.sendStreamFrame(FrameType.Fin, this.id, this.sentOffset)
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
      case FrameType.Fin: return this.onPeerFin(payload)
      case FrameType.Reset: return this.onPeerReset(payload)
      default: this.link.protocolError(new ProtocolError(`unexpected frame ${type} on stream ${this.id}`, 'malformed'))
    }
  }

  private onPeerData (payload: Buffer): void {
    if (payload.length < OFFSET_BYTES) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: DATA of ${payload.length} bytes has no offset`, 'malformed'))
      return
    }
    const offset = readU64(payload, 0)
    const bytes = payload.subarray(OFFSET_BYTES)
    const end = offset + bytes.length
    if (end > this.receiveLimit) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: peer sent up to offset ${end} with a window up to ${this.receiveLimit}`, 'limit'))
      return
    }
    if (this.finalSize >= 0 && end > this.finalSize) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: data beyond the final size ${this.finalSize} (after FIN)`, 'malformed'))
      return
    }
    if (this.resetReceived) return
    this.reassembly.push(offset, bytes, this.deliver)
    this.endIfComplete()
  }

  /** In-order bytes from the reassembly to the local socket. */
  private readonly deliver = (bytes: Buffer): void => {
    this.counters.bytesIn += bytes.length
    if (this.socket.destroyed) return
    const length = bytes.length
    this.link.holdReceived(length)
    this.socket.write(bytes, () => this.onFlushed(length))
  }

  /** Every byte up to the peer's final size was delivered: half-close the local socket. */
  private endIfComplete (): void {
    if (this.finReceived || this.finalSize < 0 || this.reassembly.deliveredOffset < this.finalSize) return
    this.finReceived = true
    if (!this.socket.destroyed) this.socket.end()
  }

  /** Moves the peer's limit on once a quarter of the window has left for the local socket. */
  private onFlushed (length: number): void {
    this.link.releaseReceived(length)
    this.flushedOffset += length
    if (this.closed || this.finalSize >= 0) return
    const limit = this.flushedOffset + this.localWindowBytes
    if (limit - this.receiveLimit < this.localWindowBytes / 4) return
    this.receiveLimit = limit
    this.link.sendStreamFrame(FrameType.Window, this.id, limit)
  }

  private onPeerWindow (payload: Buffer): void {
    if (payload.length !== OFFSET_BYTES) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: WINDOW of ${payload.length} bytes`, 'malformed'))
      return
    }
    const limit = readU64(payload, 0)
    if (limit <= this.peerMaxOffset) return // a stale or repeated grant
    this.peerMaxOffset = limit
    const pending = this.pending
    if (pending === null) return
    this.pending = null
    this.send(pending)
    if (this.pending === null) {
      if (this.localEnded) this.sendFin()
      else if (!this.link.isCongested) this.socket.resume()
    }
  }

  private onPeerFin (payload: Buffer): void {
    if (payload.length !== OFFSET_BYTES) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: FIN of ${payload.length} bytes`, 'malformed'))
      return
    }
    const finalSize = readU64(payload, 0)
    if ((this.finalSize >= 0 && finalSize !== this.finalSize) || finalSize < this.reassembly.highestEnd) {
      this.link.protocolError(new ProtocolError(`stream ${this.id}: FIN with final size ${finalSize} below data received or changed`, 'malformed'))
      return
    }
    this.finalSize = finalSize
    this.endIfComplete()
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
      this.link.sendStreamFrame(FrameType.Reset, this.id, -1, Buffer.concat([Buffer.from([reason]), Buffer.from(detail.slice(0, 200))]))
    }
    this.link.streamClosed(this, clean ? undefined : (this.error?.message ?? (this.resetReceived ? 'reset by peer' : 'closed before both sides finished')))
  }
}
