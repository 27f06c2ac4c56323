import { OneWayDelayTrend } from './delay-trend.js'
import { DEFAULT_FEEDBACK_INTERVAL_MS, FEEDBACK_EVERY_PACKETS, MAX_NACKS_PER_FEEDBACK, NACK_REPEATS } from './constants.js'

/**
 * What every data or probe packet carries for its path (the modes encode it on the wire).
 * `pathSeq` counts packets on this path only; `txTimeMs` is the sender's monotonic clock.
 */
export interface PathStamp {
  pathSeq: number
  txTimeMs: number
}

/**
 * Feedback a receiver returns about one path (plain data; the modes encode it). It may travel
 * on any path; a probe is answered on the path it came from, so the answer proves both ways.
 */
export interface PathFeedback {
  /** Highest per-path sequence received so far. */
  highestSeq: number
  /** Packets received on this path so far (cumulative; a count, so it survives lost feedback). */
  receivedPackets: number
  /** Bytes received on this path so far (cumulative). */
  receivedBytes: number
  /** The most recent packet: its sequence, its sender timestamp echoed, and when it arrived (receiver clock). */
  echoSeq: number
  echoTxTimeMs: number
  echoRxTimeMs: number
  /** Time the receiver held the echo before sending this feedback (subtracted from the RTT). */
  ackDelayMs: number
  /** Per-path sequences found missing since the last feedback (for repair); at most MAX_NACKS_PER_FEEDBACK. */
  nacks: number[]
  nackCount: number
}

export function createFeedback (): PathFeedback {
  return {
    highestSeq: -1, receivedPackets: 0, receivedBytes: 0, echoSeq: -1, echoTxTimeMs: 0, echoRxTimeMs: 0,
    ackDelayMs: 0, nacks: new Array<number>(MAX_NACKS_PER_FEEDBACK).fill(0), nackCount: 0,
  }
}

/** Extends a 32-bit wire sequence to the full number nearest to `reference`. */
export function unwrapSeq32 (reference: number, low32: number): number {
  const base = reference - (reference % 0x1_0000_0000)
  let seq = base + (low32 >>> 0)
  if (seq - reference > 0x8000_0000) seq -= 0x1_0000_0000
  else if (reference - seq > 0x8000_0000) seq += 0x1_0000_0000
  return seq
}

/**
 * Receiver side of one path: counts what arrives, notices per-path gaps (nacked at once, so a
 * lost packet can be repaired over another path before the reorder hold runs out), and says
 * when feedback is due.
 */
export class PathReceiver {
  highestSeq = -1
  receivedPackets = 0
  receivedBytes = 0
  lastRxMs = -Infinity
  private echoSeq = -1
  private echoTxTimeMs = 0
  private echoRxTimeMs = 0
  private readonly nacks: number[] = new Array<number>(MAX_NACKS_PER_FEEDBACK).fill(0)
  /** Feedbacks each pending nack will still ride in (feedback can be lost too). */
  private readonly nackRepeats: number[] = new Array<number>(MAX_NACKS_PER_FEEDBACK).fill(0)
  private nackCount = 0
  private unreported = 0
  private urgent = false
  private lastFeedbackMs = -Infinity
  /** One-way delay of this path as seen here (for the reorder hold's delay spread). */
  readonly delay = new OneWayDelayTrend()
  /** Gaps found beyond what one feedback can nack (counted as loss, not repaired). */
  nacksDropped = 0

  /**
   * `startsAtFirstSeen`: the receiver of a new session, whose peer's path sequences may go on from
   * an earlier session: nothing below the first sequence seen is missing.
   */
  constructor (readonly feedbackIntervalMs = DEFAULT_FEEDBACK_INTERVAL_MS, private readonly startsAtFirstSeen = false) {}

  /** A data (or, with `isProbe`, probe) packet arrived on this path. */
  onPacket (stamp: PathStamp, bytes: number, nowMs: number, isProbe = false): void {
    const seq = stamp.pathSeq
    if (seq > this.highestSeq) {
      // Nack what fits in one feedback and count the rest without visiting each number: a far
      // jump (a peer's bug or malice) must cost O(1), not one turn per skipped sequence.
      const firstMissing = this.highestSeq < 0 && this.startsAtFirstSeen ? seq : this.highestSeq + 1
      const listed = Math.max(0, Math.min(MAX_NACKS_PER_FEEDBACK - this.nackCount, seq - firstMissing))
      for (let i = 0; i < listed; i++) {
        this.nacks[this.nackCount] = firstMissing + i
        this.nackRepeats[this.nackCount++] = NACK_REPEATS
      }
      this.nacksDropped += Math.max(0, seq - firstMissing - listed)
      if (seq > this.highestSeq + 1 && this.highestSeq >= 0) this.urgent = true
      this.highestSeq = seq
      this.echoSeq = seq
      this.echoTxTimeMs = stamp.txTimeMs
      this.echoRxTimeMs = nowMs
    } else {
      this.forgetNack(seq) // it was only late, not lost
    }
    this.delay.addSample(stamp.txTimeMs, nowMs, nowMs)
    this.receivedPackets++
    this.receivedBytes += bytes
    this.lastRxMs = nowMs
    this.unreported++
    if (isProbe) this.urgent = true
  }

  private forgetNack (seq: number): void {
    for (let i = 0; i < this.nackCount; i++) {
      if (this.nacks[i] !== seq) continue
      this.nacks[i] = this.nacks[--this.nackCount]!
      this.nackRepeats[i] = this.nackRepeats[this.nackCount]!
      return
    }
  }

  isFeedbackDue (nowMs: number): boolean {
    if (this.unreported === 0) return false
    return this.urgent || this.unreported >= FEEDBACK_EVERY_PACKETS || nowMs >= this.lastFeedbackMs + this.feedbackIntervalMs
  }

  /** When feedback will be due if nothing else arrives (Infinity when nothing is unreported). */
  nextFeedbackMs (): number {
    if (this.unreported === 0) return Infinity
    return this.urgent ? this.lastRxMs : Math.max(this.lastRxMs, this.lastFeedbackMs + this.feedbackIntervalMs)
  }

  /** Fills `out` (reused, no allocation) and resets what has been reported. */
  writeFeedback (nowMs: number, out: PathFeedback): PathFeedback {
    out.highestSeq = this.highestSeq
    out.receivedPackets = this.receivedPackets
    out.receivedBytes = this.receivedBytes
    out.echoSeq = this.echoSeq
    out.echoTxTimeMs = this.echoTxTimeMs
    out.echoRxTimeMs = this.echoRxTimeMs
    out.ackDelayMs = Math.max(0, nowMs - this.echoRxTimeMs)
    for (let i = 0; i < this.nackCount; i++) out.nacks[i] = this.nacks[i]!
    out.nackCount = this.nackCount
    let kept = 0
    for (let i = 0; i < this.nackCount; i++) {
      if (--this.nackRepeats[i]! <= 0) continue
      this.nacks[kept] = this.nacks[i]!
      this.nackRepeats[kept++] = this.nackRepeats[i]!
    }
    this.nackCount = kept
    this.unreported = 0
    this.urgent = false
    this.lastFeedbackMs = nowMs
    return out
  }
}

/**
 * Delay spread between the paths that delivered something in the last `activeWithinMs`, and the
 * largest jitter among them: the input of the reorder hold time. Paths share both clocks, so
 * their relative one-way delays compare directly.
 */
export function delaySpreadOf (receivers: readonly PathReceiver[], nowMs: number, activeWithinMs = 1000): { spreadMs: number, jitterMs: number } {
  let lo = Infinity
  let hi = -Infinity
  let jitterMs = 0
  for (let i = 0; i < receivers.length; i++) {
    const r = receivers[i]!
    if (nowMs - r.lastRxMs > activeWithinMs || Number.isNaN(r.delay.latestRelMs)) continue
    const rel = r.delay.minRelMs + r.delay.queueDelayMs
    if (rel < lo) lo = rel
    if (rel > hi) hi = rel
    if (r.delay.jitterMs > jitterMs) jitterMs = r.delay.jitterMs
  }
  return { spreadMs: hi > lo ? hi - lo : 0, jitterMs }
}
