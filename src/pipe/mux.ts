/**
 * One session: its streams (the client opens one per accepted connection, the server connects
 * each to its target) carried over one or more subflows (TCP connections, each its own
 * SecureChannel). Every stream frame is a Unit kept until its subflow's ACK covers it; the
 * scheduler picks a subflow per unit; a lost subflow's unacknowledged units go out again on the
 * others. With no subflow left the session waits up to `pathTimeoutMs` for one to (re)join,
 * units queued, then ends.
 *
 * Send path: local socket chunk -> MuxStream (flow control, offset) -> sendStreamFrame -> Unit
 *   (a view of the chunk, no copy) -> scheduler picks subflow(s) -> channel.sendFrame (seals into
 *   its own record) -> SentLog until ACKed.
 * Receive path: subflow channel -> onFrame -> stream by id (implied open) -> Reassembler -> local socket.
 */
import type { Socket } from 'node:net'
import sodium from 'sodium-native'
import { ProtocolError } from '../errors.js'
import type { Clock } from '../clock.js'
import { LogLimiter, type Logger } from '../log.js'
import { createScheduler, type Path, type Scheduler, type SchedulerKind } from '../multipath/index.js'
import { FrameType, ResetReason, CloseReason, OFFSET_BYTES, readU64 } from './frame.js'
import { MuxStream, type StreamLink } from './stream.js'
import { Unit } from './retransmit.js'
import { SeenStreamIds } from './stream-ids.js'
import { ACK_FLAG_PAUSED, type Subflow } from './subflow.js'
import type { PipeTunables } from './config.js'

export interface MuxOptions {
  /** Bytes each stream may receive before it grants more (announced in the handshake). */
  localWindowBytes: number
  /** Streams open at once in this session. */
  maxStreams: number
  /**
   * Received bytes held for slow local sockets, over all streams, before the session stops reading
   * from the network (bounds memory per session when many streams' readers are slow at once).
   */
  sessionBufferBytes: number
  /** Sent bytes kept until acknowledged; past it local sockets stop being read (backpressure). */
  retransmitBufferBytes: number
  /** With no subflow left, end the session after this long. */
  pathTimeoutMs: number
  /** A subflow whose ACKs do not move for max(4 x srtt, this) is dropped. */
  subflowStallMs: number
  /** Idle subflows are probed (PING, answered by an ACK) this often. */
  probeIntervalMs: number
  scheduler: SchedulerKind
  log: Logger
  clock: Clock
  random?: () => number
  /** Server only: connect a new stream to the target. */
  connectTarget?: (streamId: number) => { socket: Socket, description: string }
}

/** The session limits and timings both ends take from their tunables. */
export function muxLimitsOf (t: PipeTunables): Pick<MuxOptions, 'localWindowBytes' | 'maxStreams' | 'sessionBufferBytes' | 'retransmitBufferBytes' | 'pathTimeoutMs' | 'subflowStallMs' | 'probeIntervalMs'> {
  return {
    localWindowBytes: t.streamWindowBytes,
    maxStreams: t.maxStreams,
    sessionBufferBytes: t.sessionBufferBytes,
    retransmitBufferBytes: t.retransmitBufferBytes,
    pathTimeoutMs: t.pathTimeoutMs,
    subflowStallMs: t.subflowStallMs,
    probeIntervalMs: t.probeIntervalMs,
  }
}

export interface MuxEvents {
  /** The session ended (peer CLOSE, protocol error, or no subflow for the path timeout). */
  onClose(mux: Multiplexer, error: Error | undefined): void
  /** A subflow left the session (it is already removed); the session goes on. */
  onSubflowLost?(mux: Multiplexer, subflow: Subflow, error: Error | undefined): void
  /** A cap of this session was hit (already logged, rate-limited): for the owner's counters. */
  onCapHit?(mux: Multiplexer, cap: keyof CapHits): void
}

/** Times a session hit each of its caps. */
export interface CapHits {
  /** Streams refused because `maxStreams` were open. */
  streams: number
  /** Times reading paused because `sessionBufferBytes` were held for slow local readers. */
  buffer: number
}

/** Our choice: the session's timer (TCP_INFO samples, stall checks, idle probes). */
const TICK_MS = 50

export class Multiplexer implements StreamLink {
  readonly streams = new Map<number, MuxStream>()
  readonly subflows: Subflow[] = []
  private readonly waitingForDrain = new Set<MuxStream>()
  private peerWindowBytes = 0
  private nextStreamId = 1
  readonly capHits: CapHits = { streams: 0, buffer: 0 }
  /** Cap hits log one line per cap per interval and session, with the count held back. */
  private readonly capLog = new LogLimiter()
  private heldBytes = 0
  /** Most bytes ever held at once (for tests and `show`). */
  peakBufferedBytes = 0
  private readingPaused = false
  streamsOpened = 0
  private readonly seenIds = new SeenStreamIds()
  /** Units waiting for a subflow (none is up). */
  private pending: Unit[] = []
  /** Bytes of DATA sent and not yet acknowledged (the retransmit buffer), now and at most. */
  retransmitBytes = 0
  peakRetransmitBytes = 0
  /** Units sent again after their subflow was lost. */
  resentUnits = 0
  private scheduler: Scheduler
  private readonly pool: Path[] = []
  private readonly poolSubflows: Subflow[] = []
  private readonly chosen: Path[] = []
  private timer: NodeJS.Timeout | undefined
  private orphanSinceMs = -1
  private lastTickMs = 0
  private ended = false
  /** Set by the client/server: the join key of this session (wiped when it ends). */
  joinKey: Buffer | undefined
  /** Wire bytes of subflows that have gone (so the session's totals survive them). */
  private goneBytesIn = 0
  private goneBytesOut = 0
  private goneRotations = 0

  constructor (private readonly options: MuxOptions, private readonly events: MuxEvents) {
    this.scheduler = createScheduler(options.scheduler, options.random)
  }

  setPeerWindow (bytes: number): void {
    this.peerWindowBytes = bytes
  }

  setScheduler (kind: SchedulerKind): void {
    this.scheduler = createScheduler(kind, this.options.random)
  }

  get schedulerKind (): SchedulerKind { return this.scheduler.kind }

  /** The first open subflow's channel (what a one-path session was), or the first at all. */
  get channel (): Subflow['channel'] {
    return (this.subflows.find((s) => s.isUp) ?? this.subflows[0])!.channel
  }

  /** For log lines, e.g. "session 127.0.0.1:40000" (set by whoever creates the session). */
  label = 'session'
  get isEnded (): boolean { return this.ended }
  get upSubflows (): number { return this.subflows.filter((s) => s.isUp).length }

  get bytesIn (): number { return this.subflows.reduce((n, s) => n + s.channel.stats.bytesIn, this.goneBytesIn) }
  get bytesOut (): number { return this.subflows.reduce((n, s) => n + s.channel.stats.bytesOut, this.goneBytesOut) }
  get rotations (): number { return this.subflows.reduce((n, s) => n + s.channel.rotations, this.goneRotations) }

  /** Client: carries an accepted local connection as a new stream. */
  openStream (socket: Socket, description: string): MuxStream | undefined {
    if (this.streams.size >= this.options.maxStreams) {
      this.logLimit()
      socket.resetAndDestroy()
      return undefined
    }
    const id = this.nextStreamId++
    if (this.nextStreamId > 0xffffffff) this.nextStreamId = 1
    this.sendStreamFrame(FrameType.Open, id, -1)
    return this.addStream(id, socket, description)
  }

  private addStream (id: number, socket: Socket, description: string): MuxStream {
    const stream = new MuxStream(id, socket, this, this.peerWindowBytes, this.options.localWindowBytes, description)
    this.streams.set(id, stream)
    this.streamsOpened++
    return stream
  }

  // ---- subflows

  /** An open subflow joins the session: queued units go out on it. */
  addSubflow (subflow: Subflow): void {
    if (this.ended) { subflow.channel.close(CloseReason.Normal, 'session ended'); return }
    const now = this.options.clock.now()
    subflow.openedAtMs = subflow.lastProgressMs = subflow.tcpProgressMs = now
    subflow.path.state = subflow.path.preference === 'backup' ? 'backup' : 'up'
    subflow.path.stateSinceMs = now
    this.subflows.push(subflow)
    if (this.readingPaused) subflow.setReadingPaused(true)
    this.orphanSinceMs = -1
    if (this.timer === undefined) {
      this.lastTickMs = now
      this.timer = setInterval(() => this.tick(), TICK_MS)
      this.timer.unref()
    }
    const pending = this.pending
    this.pending = []
    for (const unit of pending) this.transmit(unit)
    this.wakeStreams()
  }

  /** A subflow closed: re-send what it carried that was not acknowledged. */
  removeSubflow (subflow: Subflow, error: Error | undefined): void {
    const at = this.subflows.indexOf(subflow)
    if (at < 0) return
    this.subflows.splice(at, 1)
    this.goneBytesIn += subflow.channel.stats.bytesIn
    this.goneBytesOut += subflow.channel.stats.bytesOut
    this.goneRotations += subflow.channel.rotations
    subflow.path.state = 'down'
    if (this.ended) return
    if (subflow.channel.peerClosed) {
      this.end(undefined)
      return
    }
    const lost = subflow.sent.takeUnacked()
    this.resentUnits += lost.length
    for (const unit of lost) this.transmit(unit)
    if (this.subflows.length === 0) this.orphanSinceMs = this.options.clock.now()
    this.events.onSubflowLost?.(this, subflow, error)
  }

  private tick (): void {
    const now = this.options.clock.now()
    // A tick long overdue means this process did not run (a busy machine): the peer's ACKs may
    // sit unread in our sockets, so the time we were away is not counted against any subflow.
    const awayMs = now - this.lastTickMs - TICK_MS
    this.lastTickMs = now
    if (awayMs > TICK_MS) for (const subflow of this.subflows) if (subflow.waitingSinceMs >= 0) subflow.waitingSinceMs += awayMs
    if (this.orphanSinceMs >= 0 && now - this.orphanSinceMs >= this.options.pathTimeoutMs) {
      this.end(new Error(`no path to the peer for ${Math.round((now - this.orphanSinceMs) / 1000)} s`))
      return
    }
    for (const subflow of [...this.subflows]) {
      if (!subflow.isUp) continue
      subflow.sample(now)
      const outstanding = subflow.outstandingFrames > 0
      if (!outstanding) {
        subflow.waitingSinceMs = -1
        if (now - subflow.lastProgressMs >= this.options.probeIntervalMs) {
          subflow.channel.ping()
          subflow.waitingSinceMs = now
          subflow.lastProgressMs = now
        }
        continue
      }
      // A paused side cannot be judged: the peer told us it stopped reading, or we did (then its ACKs wait unread).
      if (subflow.waitingSinceMs < 0 || subflow.peerPaused || subflow.readingPaused) subflow.waitingSinceMs = now
      const srttMs = subflow.path.rtt.hasSample() ? subflow.path.rtt.srttMs : 0
      const stallMs = Math.max(4 * srttMs, this.options.subflowStallMs)
      // Our ACKs ride behind data in the same connection, so under load they come late; as long
      // as TCP itself still gets acknowledgements, or the peer's bytes arrive, the path is alive.
      if (now - subflow.waitingSinceMs > stallMs && now - subflow.tcpProgressMs > stallMs) {
        subflow.channel.fail(new Error(`no progress for ${Math.round(now - subflow.waitingSinceMs)} ms`))
      }
    }
  }

  /** The peer sent CLOSE on a subflow: the whole session ends now (not when that socket closes). */
  endByPeer (): void {
    this.end(undefined)
  }

  /** Ends the session: every subflow closed (CLOSE), streams dropped, join key wiped. */
  close (reason: CloseReason, detail: string): void {
    for (const subflow of [...this.subflows]) subflow.channel.close(reason, detail)
    this.end(undefined)
  }

  private end (error: Error | undefined): void {
    if (this.ended) return
    this.ended = true
    clearInterval(this.timer)
    this.timer = undefined
    for (const stream of this.streams.values()) stream.abort()
    this.streams.clear()
    this.waitingForDrain.clear()
    this.pending = []
    if (this.joinKey !== undefined) sodium.sodium_memzero(this.joinKey)
    for (const subflow of [...this.subflows]) subflow.channel.close(CloseReason.Normal, 'session ended')
    this.events.onClose(this, error)
  }

  // ---- frames from any subflow

  onFrame (subflow: Subflow, type: FrameType, streamId: number, payload: Buffer): void {
    if (type === FrameType.Ack) return this.onAck(subflow, payload)
    let stream = this.streams.get(streamId)
    if (stream === undefined) {
      // Frames for a stream we already closed (or saw opened) are in flight by design: drop them.
      if (this.options.connectTarget === undefined || this.seenIds.has(streamId)) {
        if (type === FrameType.Open && this.options.connectTarget === undefined) throw new ProtocolError('the server tried to open a stream', 'malformed')
        return
      }
      this.seenIds.add(streamId)
      stream = this.onPeerOpen(streamId)
      if (stream === undefined) return
    } else if (type === FrameType.Open) {
      return // the stream's OPEN arrived after other frames of it (another subflow)
    }
    if (type !== FrameType.Open) stream.onFrame(type, payload)
  }

  private onPeerOpen (streamId: number): MuxStream | undefined {
    if (this.streams.size >= this.options.maxStreams) {
      this.logLimit()
      this.sendStreamFrame(FrameType.Reset, streamId, -1, Buffer.from([ResetReason.Limit]))
      return undefined
    }
    const { socket, description } = this.options.connectTarget!(streamId)
    return this.addStream(streamId, socket, description)
  }

  private onAck (subflow: Subflow, payload: Buffer): void {
    if (payload.length !== OFFSET_BYTES + 1) throw new ProtocolError(`ACK of ${payload.length} bytes`, 'malformed')
    const count = readU64(payload, 0)
    subflow.peerPaused = (payload[OFFSET_BYTES]! & ACK_FLAG_PAUSED) !== 0
    const before = subflow.sent.ackedFrames
    if (!subflow.sent.ack(count, subflow.channel.stats.elicitingOut, this.onAcked)) {
      throw new ProtocolError(`ACK of ${count} frames on a subflow that sent ${subflow.channel.stats.elicitingOut} (had ${before})`, 'malformed')
    }
    if (count > before) {
      const now = this.options.clock.now()
      subflow.lastProgressMs = now
      subflow.waitingSinceMs = subflow.outstandingFrames > 0 ? now : -1
    }
    if (this.waitingForDrain.size > 0 && !this.isCongested) this.wakeStreams()
  }

  private readonly onAcked = (unit: Unit): void => {
    this.retransmitBytes -= unit.bytes
  }

  onDrain (): void {
    if (!this.isCongested) this.wakeStreams()
  }

  private wakeStreams (): void {
    if (this.waitingForDrain.size === 0) return
    const waiting = [...this.waitingForDrain]
    this.waitingForDrain.clear()
    for (const stream of waiting) stream.onSessionDrain()
  }

  // ---- StreamLink

  sendStreamFrame (type: FrameType, streamId: number, offset: number, payload?: Buffer, start = 0, end = payload?.length ?? 0): void {
    const bytes = payload === undefined ? undefined : (start === 0 && end === payload.length ? payload : payload.subarray(start, end))
    const unit = new Unit(type, streamId, offset, bytes)
    this.retransmitBytes += unit.bytes
    if (this.retransmitBytes > this.peakRetransmitBytes) this.peakRetransmitBytes = this.retransmitBytes
    this.transmit(unit)
  }

  /** Sends a unit on the subflow(s) the scheduler picks, or queues it while none is up. */
  private transmit (unit: Unit): void {
    if (unit.acked) return
    const n = this.pick(unit.bytes)
    if (n === 0) {
      this.pending.push(unit)
      return
    }
    for (let i = 0; i < n; i++) {
      const subflow = this.poolSubflows[this.indexOfPath(this.chosen[i]!)]!
      const payload = unit.payload
      subflow.channel.sendFrame(unit.type, unit.streamId, payload, 0, payload?.length ?? 0, unit.offset)
      if (subflow.waitingSinceMs < 0) subflow.waitingSinceMs = this.options.clock.now()
      subflow.sent.push(subflow.channel.stats.elicitingOut, unit)
    }
  }

  private indexOfPath (path: Path): number {
    for (let i = 0; i < this.poolSubflows.length; i++) if (this.poolSubflows[i]!.path === path) return i
    return 0
  }

  /**
   * Fills `chosen` with the path(s) of the subflow(s) to send `bytes` on; returns how many.
   * Candidates are the up subflows whose send buffers have room, or all up ones if none has.
   */
  private pick (bytes: number): number {
    const pool = this.pool
    const subflows = this.poolSubflows
    pool.length = 0
    subflows.length = 0
    let congested = 0
    for (const subflow of this.subflows) {
      if (!subflow.isUp) continue
      subflows.push(subflow)
      if (subflow.channel.isCongested) congested++
    }
    if (subflows.length === 0) return 0
    if (subflows.length === 1) { this.chosen[0] = subflows[0]!.path; return 1 }
    // `auto` goes where there is room; static shares (`weighted`) and copies (`redundant`) do not
    // bend to it: the session waits for the fullest subflow instead (isCongested).
    if (this.scheduler.kind === 'auto' && congested > 0 && congested < subflows.length) {
      for (let i = subflows.length - 1; i >= 0; i--) if (subflows[i]!.channel.isCongested) subflows.splice(i, 1)
    }
    for (const subflow of subflows) {
      subflow.path.externalQueuedBytes = subflow.queuedBytes()
      pool.push(subflow.path)
    }
    const now = this.options.clock.now()
    const n = this.scheduler.pick(pool, bytes, now, this.chosen)
    if (n > 0) return n
    // `auto` refuses when every queue is over its budget: a TCP subflow queues in its own
    // socket instead, so take the earliest arrival (or, with only backups, the first).
    let best: Path | undefined
    let bestMs = Infinity
    for (const path of pool) {
      if (path.state === 'down') continue
      const at = path.expectedArrivalMs(bytes, now)
      if (at < bestMs) { bestMs = at; best = path }
    }
    this.chosen[0] = best ?? pool[0]!
    return 1
  }

  /** Full retransmit buffer, queued units, or no room: `auto` on any subflow, the others on every one. */
  get isCongested (): boolean {
    if (this.retransmitBytes >= this.options.retransmitBufferBytes || this.pending.length > 0) return true
    const needsAll = this.scheduler.kind !== 'auto'
    let up = 0
    for (const subflow of this.subflows) {
      if (!subflow.isUp) continue
      up++
      if (needsAll && subflow.channel.isCongested) return true
      if (!needsAll && !subflow.channel.isCongested) return false
    }
    return !needsAll && up > 0
  }

  waitForDrain (stream: MuxStream): void {
    this.waitingForDrain.add(stream)
  }

  streamClosed (stream: MuxStream, reason: string | undefined): void {
    this.streams.delete(stream.id)
    this.waitingForDrain.delete(stream)
    if (reason !== undefined && !this.ended) this.options.log.debug(`${this.label}: stream ${stream.id} (${stream.description}) reset: ${reason}`)
  }

  holdReceived (bytes: number): void {
    this.heldBytes += bytes
    if (this.heldBytes > this.peakBufferedBytes) this.peakBufferedBytes = this.heldBytes
    if (!this.readingPaused && this.heldBytes > this.options.sessionBufferBytes) {
      this.readingPaused = true
      for (const subflow of this.subflows) subflow.setReadingPaused(true)
      this.hitCap('buffer', `buffer cap of ${this.options.sessionBufferBytes} bytes held for slow local readers reached; reading paused until half is taken`)
    }
  }

  releaseReceived (bytes: number): void {
    this.heldBytes -= bytes
    if (this.readingPaused && this.heldBytes <= this.options.sessionBufferBytes / 2) {
      this.readingPaused = false
      for (const subflow of this.subflows) subflow.setReadingPaused(false)
    }
  }

  /** Subflows added while reading is paused start paused too. */
  get isReadingPaused (): boolean { return this.readingPaused }

  /** Bytes received and not yet taken by local sockets. */
  get bufferedBytes (): number { return this.heldBytes }

  /** The peer broke the stream protocol: the whole session ends. */
  protocolError (error: ProtocolError): void {
    for (const subflow of [...this.subflows]) subflow.channel.fail(error)
    this.end(error)
  }

  private logLimit (): void {
    this.hitCap('streams', `stream limit of ${this.options.maxStreams} reached; new streams are refused`)
  }

  private hitCap (cap: keyof CapHits, what: string): void {
    this.capHits[cap]++
    const suppressed = this.capLog.admit(cap, this.options.clock.now())
    if (suppressed >= 0) this.options.log.warn(`${this.label}: ${what}${suppressed > 0 ? ` (${suppressed} more hits since the last report)` : ''}`)
    this.events.onCapHit?.(this, cap)
  }
}
