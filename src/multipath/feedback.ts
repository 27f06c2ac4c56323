import { OneWayDelayTrend } from './delay-trend.js'
import { WindowedMin } from './windowed-min.js'
import {
  DEFAULT_FEEDBACK_INTERVAL_MS, FEEDBACK_EVERY_PACKETS, MAX_NACKS_PER_FEEDBACK, NACK_REPEATS,
  SILENCE_REPORT_FLOOR_MS, SILENCE_REPORT_GAPS, SILENCE_REPORT_CEILING_MS, SILENCE_REPORTS, SILENCE_REPORT_PAUSES,
} from './constants.js'

/** Our choice: a pause a path came back from is remembered for 10-20 s (a WindowedMin's half-window buckets). */
const PAUSE_MEMORY_MS = 20_000

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
  /**
   * Time the receiver held the echo before sending this feedback (subtracted from the RTT): the
   * time since the highest sequence arrived. In a copy over another path (which has no echo) it
   * is what a silence report says: nothing newer than highestSeq for that long.
   */
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
  /** When each pending nack may first be sent (see nackDelayMs). */
  private readonly nackDueMs: number[] = new Array<number>(MAX_NACKS_PER_FEEDBACK).fill(0)
  private nackCount = 0
  private unreported = 0
  private urgent = false
  private lastFeedbackMs = -Infinity
  /**
   * The last feedback reported new arrivals and nothing has come since: it goes once more a
   * feedback interval later. When a burst's last feedback was lost and the sender then sent
   * nothing, the sender heard of its last sends only through a probe it sends 100 ms into the
   * quiet, answered a round trip later: on l2 alone with 5 % loss (a 120 ms round trip), past
   * the 60 ms its own timeout allows, so the path went down for nothing (1 run in 2).
   */
  private repeatsTail = false
  /** One-way delay of this path as seen here (for the reorder hold's delay spread). */
  readonly delay = new OneWayDelayTrend()
  /** Gaps found beyond what one feedback can nack (counted as loss, not repaired). */
  nacksDropped = 0
  /**
   * How long a new gap waits before it is nacked: 0 (at once) unless the peer protects this path
   * with FEC parity (FecDecoder.nackDelayMs), which may rebuild the packet before a repair
   * could arrive; `onRebuilt` then takes the nack back before it is sent.
   */
  nackDelayMs = 0
  /** Mean time between arrivals (an EWMA; an idle path's is long), which scales the silence a report waits for. */
  private gapMs = SILENCE_REPORT_CEILING_MS * 10
  /** Silence reports sent since the last arrival. */
  private silenceReports = 0
  /**
   * The longest pause this busy path came back from by itself lately: how much later a packet
   * arrived than the one before it, beyond how much later it was sent (a delay jump; a sender that
   * merely paused adds nothing). A Wi-Fi or 4G link that stalls 40 ms now and then is not
   * reported silent for 40 ms again (SILENCE_REPORT_PAUSES times it). Kept negated in a
   * WindowedMin (the longest is the least), so a pause is forgotten 10-20 s later.
   */
  private readonly negatedPauses = new WindowedMin(PAUSE_MEMORY_MS)

  /**
   * `startsAtFirstSeen`: the receiver of a new session, whose peer's path sequences may go on from
   * an earlier session: nothing below the first sequence seen is missing. `repeatsTailFeedback`:
   * see repeatsTail (off only for the simulator's A/B tests written before it).
   */
  constructor (readonly feedbackIntervalMs = DEFAULT_FEEDBACK_INTERVAL_MS, private readonly startsAtFirstSeen = false, private readonly repeatsTailFeedback = true) {}

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
        // -Infinity: undelayed, sent with the urgent feedback this gap triggers (as without FEC).
        this.nackDueMs[this.nackCount] = this.nackDelayMs > 0 ? nowMs + this.nackDelayMs : -Infinity
        this.nackRepeats[this.nackCount++] = NACK_REPEATS
      }
      this.nacksDropped += Math.max(0, seq - firstMissing - listed)
      if (seq > this.highestSeq + 1 && this.highestSeq >= 0 && this.nackDelayMs <= 0) this.urgent = true
      if (this.highestSeq >= 0) this.notePause(nowMs - this.echoRxTimeMs - (stamp.txTimeMs - this.echoTxTimeMs), nowMs)
      this.highestSeq = seq
      this.echoSeq = seq
      this.echoTxTimeMs = stamp.txTimeMs
      this.echoRxTimeMs = nowMs
    } else {
      this.forgetNack(seq) // it was only late, not lost
    }
    this.delay.addSample(stamp.txTimeMs, nowMs, nowMs)
    if (this.lastRxMs > -Infinity) this.gapMs += (Math.min(nowMs - this.lastRxMs, 10 * SILENCE_REPORT_CEILING_MS) - this.gapMs) / 8
    this.silenceReports = 0
    this.receivedPackets++
    this.receivedBytes += bytes
    this.lastRxMs = nowMs
    this.unreported++
    if (isProbe) this.urgent = true
  }

  /**
   * Packet `seq` was rebuilt from FEC parity: it is no longer missing, so its nack is taken back.
   * It does not count as received: the sender's loss estimate (which sizes the FEC) stays the
   * path's own.
   */
  onRebuilt (seq: number): void {
    this.forgetNack(seq)
  }

  /**
   * A parity showed that packets firstSeq .. firstSeq + count - 1 cannot be rebuilt yet (two or
   * more missing): their nacks stop waiting and go out with the next feedback.
   */
  nackNow (firstSeq: number, count: number, nowMs: number): void {
    for (let i = 0; i < this.nackCount; i++) {
      const seq = this.nacks[i]!
      if (seq >= firstSeq && seq < firstSeq + count && this.nackDueMs[i]! > nowMs) this.nackDueMs[i] = nowMs
    }
  }

  private forgetNack (seq: number): void {
    for (let i = 0; i < this.nackCount; i++) {
      if (this.nacks[i] !== seq) continue
      this.nacks[i] = this.nacks[--this.nackCount]!
      this.nackRepeats[i] = this.nackRepeats[this.nackCount]!
      this.nackDueMs[i] = this.nackDueMs[this.nackCount]!
      return
    }
  }

  /** Whether a delayed nack that was never sent has come due. */
  private hasDueNack (nowMs: number): boolean {
    return this.nackCount > 0 && this.firstUnsentNackMs() <= nowMs
  }

  /** The earliest time a delayed nack that was never sent becomes due (Infinity: none waits). */
  private firstUnsentNackMs (): number {
    let first = Infinity
    for (let i = 0; i < this.nackCount; i++) {
      const dueMs = this.nackDueMs[i]!
      if (this.nackRepeats[i] === NACK_REPEATS && dueMs > -Infinity && dueMs < first) first = dueMs
    }
    return first
  }

  isFeedbackDue (nowMs: number): boolean {
    // A delayed nack that came due goes out at once, even with nothing new to report.
    if (this.hasDueNack(nowMs)) return true
    if (this.unreported === 0) return this.repeatsTail && nowMs >= this.lastFeedbackMs + this.feedbackIntervalMs
    return this.urgent || this.unreported >= FEEDBACK_EVERY_PACKETS || nowMs >= this.lastFeedbackMs + this.feedbackIntervalMs
  }

  /** When feedback will be due if nothing else arrives (Infinity when nothing is unreported, no nack waits and no repeat is owed). */
  nextFeedbackMs (): number {
    const nackMs = this.nackCount > 0 ? this.firstUnsentNackMs() : Infinity
    if (this.unreported === 0) return Math.min(nackMs, this.repeatsTail ? this.lastFeedbackMs + this.feedbackIntervalMs : Infinity)
    return Math.min(nackMs, this.urgent ? this.lastRxMs : Math.max(this.lastRxMs, this.lastFeedbackMs + this.feedbackIntervalMs))
  }

  private notePause (jumpMs: number, nowMs: number): void {
    // Only a busy path's, and only what it came back from before a report would matter (longer is
    // an outage); anything else adds 0, which keeps the window moving.
    const isPause = jumpMs > 0 && jumpMs <= SILENCE_REPORT_CEILING_MS && SILENCE_REPORT_GAPS * this.gapMs <= SILENCE_REPORT_CEILING_MS
    this.negatedPauses.add(isPause ? -jumpMs : 0, nowMs)
  }

  /**
   * Whether to tell the sender, over another path, that this one has gone silent: nothing has
   * arrived for SILENCE_REPORT_GAPS times its usual gap (at least SILENCE_REPORT_FLOOR_MS, and
   * SILENCE_REPORT_PAUSES times the longest pause it came back from lately), and
   * again after as long once more, up to SILENCE_REPORTS times. The path's own feedback cannot
   * say it (it would go the dead way); the sender checks what it sent (Path.onSilenceReport), so
   * a sender that merely stopped using the path changes nothing. A path busy at under a packet per
   * SILENCE_REPORT_CEILING_MS / SILENCE_REPORT_GAPS is left to the sender's own timeout, and so is
   * one while no other path delivers (`othersLastRxMs`: the latest arrival on any other path).
   */
  silenceReportDue (nowMs: number, othersLastRxMs: number): boolean {
    if (this.silenceReports >= SILENCE_REPORTS || this.highestSeq < 0) return false
    const afterMs = Math.max(SILENCE_REPORT_FLOOR_MS, SILENCE_REPORT_GAPS * this.gapMs, SILENCE_REPORT_PAUSES * -this.negatedPauses.value)
    const silentMs = afterMs * (this.silenceReports + 1)
    // Another path delivered through the second half of the silence: we are reading. After our own
    // stall (a busy host), timers run before the reads, and every path would look silent at once.
    return afterMs <= SILENCE_REPORT_CEILING_MS && nowMs - this.lastRxMs >= silentMs && othersLastRxMs - this.lastRxMs >= silentMs / 2
  }

  /** Fills `out` (reused) with a silence report: the counts, no nacks, ackDelayMs the time since the highest sequence arrived. */
  writeSilenceReport (nowMs: number, out: PathFeedback): PathFeedback {
    this.silenceReports++
    this.writeCounts(nowMs, out)
    out.nackCount = 0
    return out
  }

  /** The counts and the echo into `out`: what every feedback says. */
  private writeCounts (nowMs: number, out: PathFeedback): void {
    out.highestSeq = this.highestSeq
    out.receivedPackets = this.receivedPackets
    out.receivedBytes = this.receivedBytes
    out.echoSeq = this.echoSeq
    out.echoTxTimeMs = this.echoTxTimeMs
    out.echoRxTimeMs = this.echoRxTimeMs
    out.ackDelayMs = Math.max(0, nowMs - this.echoRxTimeMs)
  }

  /** Fills `out` (reused, no allocation) and resets what has been reported. */
  writeFeedback (nowMs: number, out: PathFeedback): PathFeedback {
    this.writeCounts(nowMs, out)
    if (this.unreported === 0 && !this.hasDueNack(nowMs)) {
      // The tail's repeat (repeatsTail): the counts again, and no nack spends one of its repeats.
      // It leaves the cadence alone: the first packet after the quiet is answered at once, as
      // without a repeat (simulator: the failover stall of a flow starting on an idle bond was
      // 10 ms longer when the repeat pushed that answer back).
      out.nackCount = 0
      this.repeatsTail = false
      return out
    }
    // Nacks still waiting for a parity (nackDelayMs) stay out of this feedback and keep their repeats.
    let listed = 0
    let kept = 0
    for (let i = 0; i < this.nackCount; i++) {
      const isDue = this.nackDueMs[i]! <= nowMs
      if (isDue) out.nacks[listed++] = this.nacks[i]!
      if (isDue && --this.nackRepeats[i]! <= 0) continue
      this.nacks[kept] = this.nacks[i]!
      this.nackDueMs[kept] = this.nackDueMs[i]!
      this.nackRepeats[kept++] = this.nackRepeats[i]!
    }
    out.nackCount = listed
    this.nackCount = kept
    this.repeatsTail = this.repeatsTailFeedback && this.unreported > 0
    this.unreported = 0
    this.urgent = false
    this.lastFeedbackMs = nowMs
    return out
  }
}

/**
 * How long a hole may need when its packet was lost on a lossy path and is repaired over the
 * fastest one: the delay spread to that path, the nack's way back on it (half its RTT, after
 * the nack delay), and the repair's way over the fastest path (half the least RTT, plus the
 * queue the peer's traffic meets there, as measured here). Only paths
 * with `isLossy[i]` count (the peer protects them with FEC parity: its sender measured random
 * loss there; drop-tail overflow is not repaired, so waiting for it would only stall); 0 when
 * none is (holes are then reordering, and the hold stays short). With `nacksOnFastest` (the
 * caller also sends feedback that nacks something on its fastest path) the nack's way back is
 * half the least RTT. `srttMs[i]` is the smoothed RTT of the same link in our own sending direction
 * (NaN: not known); half an RTT stands in for the one-way delay, which has no absolute clock.
 */
export function repairWaitOf (
  receivers: readonly PathReceiver[], srttMs: readonly number[], isLossy: readonly boolean[], nowMs: number,
  nacksOnFastest = false, activeWithinMs = 1000,
): number {
  let lo = Infinity
  let loQueueMs = 0
  let minRttMs = Infinity
  for (let i = 0; i < receivers.length; i++) {
    const r = receivers[i]!
    if (nowMs - r.lastRxMs > activeWithinMs || Number.isNaN(r.delay.latestRelMs)) continue
    const rel = r.delay.minRelMs + r.delay.queueDelayMs
    if (rel < lo) { lo = rel; loQueueMs = r.delay.queueDelayMs }
    if (srttMs[i]! < minRttMs) minRttMs = srttMs[i]!
  }
  if (!Number.isFinite(minRttMs)) return 0
  let waitMs = 0
  for (let i = 0; i < receivers.length; i++) {
    const r = receivers[i]!
    if (nowMs - r.lastRxMs > activeWithinMs || Number.isNaN(r.delay.latestRelMs) || !(srttMs[i]! > 0)) continue
    if (isLossy[i] !== true) continue
    const spreadMs = r.delay.minRelMs + r.delay.queueDelayMs - lo
    const nackWayMs = (nacksOnFastest ? minRttMs : srttMs[i]!) / 2
    // The repair queues behind the peer's traffic on the fastest path: its queue as measured here.
    waitMs = Math.max(waitMs, spreadMs + r.nackDelayMs + r.feedbackIntervalMs + nackWayMs + minRttMs / 2 + loQueueMs)
  }
  return waitMs
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
