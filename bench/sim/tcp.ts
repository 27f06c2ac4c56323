import type { EventQueue } from './event-queue.js'

/** Segment size of the simulated flow: a full 1500-byte inner packet (header overhead not modelled). */
export const SEGMENT_BYTES = 1500
export const ACK_BYTES = 64
/** Linux's minimum RTO and initial window. */
const MIN_RTO_MS = 200
const INITIAL_CWND = 10
/** Linux's initial RTO (TCP_TIMEOUT_INIT): a SYN unanswered this long is sent again, with backoff. */
const SYN_RTO_MS = 1000
/** RFC 6675 DupThresh. */
const DUP_THRESH = 3
/** CUBIC constants (RFC 8312): C and beta. */
const CUBIC_C = 0.4
const CUBIC_BETA = 0.7

export interface TcpSegment {
  flow: number
  isAck: boolean
  seq: number
  isRetransmit: boolean
  /** The handshake: a SYN (isAck false) or a SYN-ACK (isAck true); carries no data. */
  isSyn?: boolean
  /** Acks: cumulative ack and the segment that triggered it (one SACK block of one segment). */
  cumAck: number
  sacked: number
}

/**
 * A TCP-like sender with SACK loss recovery (RFC 6675 style: a hole with DupThresh segments
 * sacked above it is lost), CUBIC window growth and an RTO with backoff. Segments are numbered,
 * each SEGMENT_BYTES long. `appRateBitsPerSec` (0 = bulk) limits what the application offers.
 */
export class TcpSender {
  cwnd = INITIAL_CWND
  ssthresh = Infinity
  sndUna = 0
  sndNxt = 0
  retransmits = 0
  rtoEvents = 0
  /** Loss recoveries entered (each cut cwnd by CUBIC's beta). */
  recoveries = 0
  /** SYNs sent (1 + those sent again after SYN_RTO_MS unanswered). */
  synsSent = 0
  /** When the handshake completed (NaN: no handshake, or not yet). */
  establishedMs = NaN
  appRateBitsPerSec = 0
  private appStartMs = 0
  private appOffered = 0
  private sentAt = new Map<number, number>()
  private retransmitted = new Set<number>()
  private sacked = new Set<number>()
  private lost = new Set<number>()
  private highestSacked = -1
  private inRecovery = false
  private recoveryPoint = 0
  private srttMs = 0
  private rttVarMs = 0
  private rtoMs = 1000
  private rtoTimerAt = Infinity
  private appTimerAt = Infinity
  private backoff = 1
  private wMax = 0
  private epochStartMs = -1
  private k = 0

  constructor (
    readonly flow: number,
    private readonly events: EventQueue,
    private readonly transmit: (segment: TcpSegment) => void,
  ) {}

  start (): void { this.appStartMs = this.events.nowMs; this.trySend() }

  /**
   * Opens the connection as TCP does: a SYN, and the first window only once the SYN-ACK is back
   * (its RTT is the flow's first sample, as Linux takes it); the SYN is sent again after
   * SYN_RTO_MS, doubling, while unanswered. Without it (`start` at once) the first window leaves
   * before the tunnel has measured any path, which no real inner flow does.
   */
  open (): void {
    const syn = (): void => {
      if (this.isEstablished) return
      this.synsSent++
      this.synSentMs = this.events.nowMs
      this.transmit({ flow: this.flow, isAck: false, seq: 0, isRetransmit: this.synsSent > 1, isSyn: true, cumAck: 0, sacked: 0 })
      this.events.after(SYN_RTO_MS * 2 ** (this.synsSent - 1), syn)
    }
    syn()
  }

  private isEstablished = false
  private synSentMs = NaN

  /** Switch the application between bulk (0) and a fixed offered rate. */
  setAppRate (rateBitsPerSec: number): void {
    this.appRateBitsPerSec = rateBitsPerSec
    this.appStartMs = this.events.nowMs
    this.appOffered = this.sndNxt
    this.trySend()
  }

  onAck (seg: TcpSegment): void {
    const now = this.events.nowMs
    if (seg.isSyn === true) {
      if (this.isEstablished) return
      this.isEstablished = true
      this.establishedMs = now
      // Karn: no sample from a SYN sent more than once.
      if (this.synsSent === 1) this.addRttSample(now - this.synSentMs)
      this.start()
      return
    }
    let newlyAcked = 0
    if (seg.sacked >= this.sndUna && seg.sacked < this.sndNxt && !this.sacked.has(seg.sacked) && seg.sacked >= seg.cumAck) {
      this.sacked.add(seg.sacked)
      this.lost.delete(seg.sacked)
      if (seg.sacked > this.highestSacked) this.highestSacked = seg.sacked
      this.sampleRtt(seg.sacked, now)
      newlyAcked++
    }
    const advanced = seg.cumAck > this.sndUna
    if (advanced) {
      for (let s = this.sndUna; s < seg.cumAck; s++) {
        if (!this.sacked.has(s)) { this.sampleRtt(s, now); newlyAcked++ }
        this.sacked.delete(s); this.lost.delete(s); this.retransmitted.delete(s); this.sentAt.delete(s)
      }
      this.sndUna = seg.cumAck
      this.backoff = 1
      if (this.inRecovery && this.sndUna >= this.recoveryPoint) this.inRecovery = false
    }
    this.detectLoss(now)
    // RFC 7661: the window grows only while the flow uses it (no growth while app-limited).
    const isCwndLimited = this.pipe() + newlyAcked >= this.cwnd - 1
    if (!this.inRecovery && newlyAcked > 0 && isCwndLimited) this.grow(newlyAcked, now)
    // RFC 6298 5.3: restart the timer only when new data is cumulatively acked.
    if (advanced || this.rtoTimerAt === Infinity) this.armRto(now)
    this.trySend()
  }

  private detectLoss (now: number): void {
    if (this.highestSacked < 0) return
    // Holes with at least DUP_THRESH sacked segments above them are lost (counted once each).
    let sackedAbove = 0
    let newLoss = false
    for (let s = this.highestSacked; s >= this.sndUna; s--) {
      if (this.sacked.has(s)) { sackedAbove++; continue }
      if (sackedAbove >= DUP_THRESH && !this.lost.has(s) && !this.retransmitted.has(s)) {
        this.lost.add(s)
        newLoss = true
      }
    }
    if (newLoss && !this.inRecovery) {
      this.inRecovery = true
      this.recoveries++
      this.recoveryPoint = this.sndNxt
      this.reduce(now)
    }
  }

  private reduce (now: number): void {
    this.wMax = this.cwnd
    this.cwnd = Math.max(2, this.cwnd * CUBIC_BETA)
    this.ssthresh = this.cwnd
    this.epochStartMs = -1
    void now
  }

  private grow (acked: number, now: number): void {
    if (this.cwnd < this.ssthresh) { this.cwnd += acked; return }
    if (this.epochStartMs < 0) {
      this.epochStartMs = now
      this.k = Math.cbrt(Math.max(0, this.wMax - this.cwnd) / CUBIC_C)
    }
    const t = (now - this.epochStartMs) / 1000
    const target = CUBIC_C * Math.pow(t + this.srttMs / 1000 - this.k, 3) + this.wMax
    // Reno-friendly floor: at least one segment per RTT.
    const step = target > this.cwnd ? Math.min((target - this.cwnd) / this.cwnd, 1) : 0.01 / this.cwnd
    this.cwnd += Math.max(step, 1 / this.cwnd) * acked
  }

  private sampleRtt (seq: number, now: number): void {
    const sent = this.sentAt.get(seq)
    if (sent === undefined || this.retransmitted.has(seq)) return
    this.addRttSample(now - sent)
  }

  private addRttSample (rtt: number): void {
    if (this.srttMs === 0) { this.srttMs = rtt; this.rttVarMs = rtt / 2 } else {
      this.rttVarMs = 0.75 * this.rttVarMs + 0.25 * Math.abs(this.srttMs - rtt)
      this.srttMs = 0.875 * this.srttMs + 0.125 * rtt
    }
    this.rtoMs = Math.max(MIN_RTO_MS, this.srttMs + 4 * this.rttVarMs)
  }

  private pipe (): number {
    return this.sndNxt - this.sndUna - this.sacked.size - this.lost.size
  }

  private appLimit (): number {
    if (this.appRateBitsPerSec <= 0) return Infinity
    // The epsilon: at the very time the next segment is due, rounding gave n - 1e-16 segments,
    // and the timer set for that time found nothing due and set itself again, for ever.
    return this.appOffered + Math.floor(((this.events.nowMs - this.appStartMs) * this.appRateBitsPerSec) / 8000 / SEGMENT_BYTES + 1e-9)
  }

  private trySend (): void {
    const now = this.events.nowMs
    // Retransmit lost segments first (they left the pipe when marked lost).
    for (const s of this.lost) {
      if (this.pipe() >= this.cwnd) break
      this.lost.delete(s)
      this.retransmitted.add(s)
      this.retransmits++
      this.sentAt.set(s, now)
      this.transmit({ flow: this.flow, isAck: false, seq: s, isRetransmit: true, cumAck: 0, sacked: 0 })
    }
    const limit = this.appLimit()
    while (this.pipe() < this.cwnd && this.sndNxt < limit) {
      const s = this.sndNxt++
      this.sentAt.set(s, now)
      this.transmit({ flow: this.flow, isAck: false, seq: s, isRetransmit: false, cumAck: 0, sacked: 0 })
    }
    if (this.sndNxt < limit === false && this.appRateBitsPerSec > 0) {
      // App-limited: come back when the application has the next segment.
      // One timer at a time: a timer per call (every ack calls here) piled up events without end.
      const nextMs = this.appStartMs + ((this.sndNxt - this.appOffered + 1) * SEGMENT_BYTES * 8000) / this.appRateBitsPerSec
      if (!(this.appTimerAt <= nextMs)) {
        this.appTimerAt = nextMs
        this.events.at(nextMs, () => { if (this.appTimerAt === nextMs) this.appTimerAt = Infinity; this.trySend() })
      }
    }
    if (this.rtoTimerAt === Infinity) this.armRto(now)
  }

  private armRto (now: number): void {
    if (this.sndNxt === this.sndUna) { this.rtoTimerAt = Infinity; return }
    const at = now + this.rtoMs * this.backoff
    this.rtoTimerAt = at
    this.events.at(at, () => { if (this.rtoTimerAt === at) this.onRto() })
  }

  private onRto (): void {
    this.rtoTimerAt = Infinity
    this.rtoEvents++
    this.ssthresh = Math.max(2, this.cwnd / 2)
    this.wMax = this.cwnd
    this.cwnd = 1
    this.epochStartMs = -1
    this.backoff = Math.min(this.backoff * 2, 64)
    // Slow start again from one segment (RFC 5681 3.1); not fast recovery, so the window grows.
    this.inRecovery = false
    this.retransmitted.clear()
    for (let s = this.sndUna; s < this.sndNxt; s++) if (!this.sacked.has(s)) this.lost.add(s)
    this.trySend()
  }
}

/**
 * The receiving end: in-order delivery to the application (which is what goodput and stalls
 * are measured on), an ack per two in-order segments and at once for anything out of order.
 */
export class TcpReceiver {
  rcvNxt = 0
  deliveredSegments = 0
  /** Original (not retransmitted) segments that arrived below the highest seen: reordering the flow saw. */
  outOfOrder = 0
  longestStallMs = 0
  lastDeliveryMs = 0
  private highestSeen = -1
  private readonly buffered = new Set<number>()
  private unacked = 0
  /** Called with (timeMs, segments) when the application receives data. */
  onDeliver: (nowMs: number, segments: number) => void = () => {}

  constructor (
    readonly flow: number,
    private readonly events: EventQueue,
    private readonly transmit: (segment: TcpSegment) => void,
  ) {}

  onSegment (seg: TcpSegment): void {
    const now = this.events.nowMs
    if (seg.isSyn === true) {
      this.transmit({ flow: this.flow, isAck: true, seq: 0, isRetransmit: false, isSyn: true, cumAck: 0, sacked: -1 })
      return
    }
    if (seg.seq < this.highestSeen && !seg.isRetransmit) this.outOfOrder++
    if (seg.seq > this.highestSeen) this.highestSeen = seg.seq
    let inOrder = false
    if (seg.seq === this.rcvNxt) {
      const before = this.rcvNxt
      this.rcvNxt++
      while (this.buffered.delete(this.rcvNxt)) this.rcvNxt++
      const n = this.rcvNxt - before
      this.deliveredSegments += n
      if (this.deliveredSegments > n) this.longestStallMs = Math.max(this.longestStallMs, now - this.lastDeliveryMs)
      this.lastDeliveryMs = now
      this.onDeliver(now, n)
      inOrder = this.buffered.size === 0
    } else if (seg.seq > this.rcvNxt) {
      this.buffered.add(seg.seq)
    }
    if (inOrder && ++this.unacked < 2) {
      this.events.after(40, () => this.delayedAck()) // delayed ack timer (Linux: 40 ms minimum)
      return
    }
    this.unacked = 0
    this.transmit({ flow: this.flow, isAck: true, seq: 0, isRetransmit: false, cumAck: this.rcvNxt, sacked: seg.seq })
  }

  /** Measures stalls only from `fromMs` on (ignores the start-up). */
  resetStall (): void { this.longestStallMs = 0 }

  private delayedAck (): void {
    if (this.unacked === 0) return
    this.unacked = 0
    this.transmit({ flow: this.flow, isAck: true, seq: 0, isRetransmit: false, cumAck: this.rcvNxt, sacked: -1 })
  }
}
