import {
  DEFAULT_PROBE_INTERVAL_MS, DEFAULT_DOWN_FLOOR_MS, DEFAULT_FEEDBACK_INTERVAL_MS, SEND_RING_SIZE, QUEUE_EXCESS_MS,
  STANDING_WINDOW_MS, UNANSWERED_FOR_SILENCE, PACING_BURST_BYTES, MIN_ROUND_MS, RTT_BETA, SILENCE_MARGIN_MS, SILENCE_REPORT_FLOOR_MS, SILENCE_FALSE_ALARM, SILENCE_EVIDENCE_MAX,
} from './constants.js'
import { RttEstimator } from './rtt-estimator.js'
import { OneWayDelayTrend } from './delay-trend.js'
import { LossEstimator } from './loss-estimator.js'
import { RateEstimator } from './rate-estimator.js'
import { Pacer } from './pacer.js'
import { nextPathState, type PathState, type PathSignals } from './path-state.js'
import type { PathFeedback } from './feedback.js'

/**
 * Our choice (Path.overflowNeedsRun): this many nacked sequences within a span of this many
 * make a run, i.e. drop-tail overflow. A buffer overflowing under a burst sent at twice its rate
 * drops every other packet (3 within 4); 5 % random loss puts 3 losses within 6 sequences
 * about once in 40 losses.
 */
export const OVERFLOW_RUN_NACKS = 3
export const OVERFLOW_RUN_SPAN = 6

const ascending = (a: number, b: number): number => a - b

/** Whether `count` nacks (in any order) hold OVERFLOW_RUN_NACKS sequences within OVERFLOW_RUN_SPAN; `scratch` is reused. */
export function hasNackRun (nacks: readonly number[], count: number, scratch: number[]): boolean {
  if (count < OVERFLOW_RUN_NACKS) return false
  scratch.length = 0
  for (let i = 0; i < count; i++) scratch.push(nacks[i]!)
  scratch.sort(ascending)
  for (let i = 0; i + OVERFLOW_RUN_NACKS - 1 < count; i++) {
    if (scratch[i + OVERFLOW_RUN_NACKS - 1]! - scratch[i]! <= OVERFLOW_RUN_SPAN) return true
  }
  return false
}

/** RFC 6298 section 2.1: RTO before any RTT sample is 1 s; used as the reply deadline of a fresh path. */
const INITIAL_REPLY_MS = 1000
/** Our choice: a path is down at most this long after its reply was due, however noisy its RTT. */
const DOWN_CEILING_MS = 150
/** Our choice: a reply this late (beyond srtt + 4 rttvar) makes the path degraded at once. */
const DEGRADE_MARGIN_MS = 5
/**
 * Our choice: a send the model queued for more than STARVED_MODEL_MS (over any bottleneck budget
 * `auto` keeps, so a model that is right never gets there) that met under a quarter of that at
 * the bottleneck says the model drains far too slowly (see checkQueueModel).
 */
const STARVED_MODEL_MS = 25
/**
 * Our choice: the fewest packets a delivery-rate sample spans. Four full packets are under 1 ms at
 * the lab's 20 Mbit/s and 50 ms at 1 Mbit/s, so a busy path's samples are as frequent as before;
 * an idle path's few probes and stray packets are never a sample of their own.
 */
const MIN_SAMPLE_PACKETS = 4

export type PathPreference = 'primary' | 'backup'

export interface PathOptions {
  /** For logs and `show`, e.g. "10.0.0.2→203.0.113.1:5000". */
  name?: string
  preference?: PathPreference
  /** Static weight for the `weighted` scheduler (default: the tx cap, else 1). */
  weight?: number
  /** Configured send rate: a cap, never a guess (0 = none). */
  txCapBitsPerSec?: number
  probeIntervalMs?: number
  downFloorMs?: number
  /** Longest time a receiver holds feedback (its feedback interval). */
  maxAckDelayMs?: number
  /**
   * The caller paces this path with `pacer.sendTimeMs` (outside rate startup). The queue model is
   * then the real queue in front of the link and is not re-anchored to measured delay (measuring
   * only adds noise); without pacing the model is corrected from every delay sample.
   */
  isPaced?: boolean
  /** The burst the pacing caller allows (`pacer.sendTimeMs(bytes, paceBurstBytes, …)`); default PACING_BURST_BYTES. */
  paceBurstBytes?: number
  /** Plan with the upward probe gain even while the model holds a queue (see planningRateBitsPerSec). */
  probesUnderLoad?: boolean
  /**
   * A delay sample re-anchors the departure model by its error less the shifts applied since its
   * send (Pacer.correctedMs); with this, those shifts count at most down to a predicted queue of
   * 0. Shifts made for the sends after it (a startup transient the model priced too long) are not
   * this send's: its prediction was already 0, the sample said 0, and counting them pushed the
   * model 2-5 ms ahead of a pace queue the link drained as planned (equal-delay runs: the units
   * on the other path then arrived after it). Off by default (the VPN is unchanged; the sim sets it).
   */
  boundsStaleCorrections?: boolean
  /**
   * Measure the path's rate with a packet pair before it carries data (`isPacketPairDue`), and
   * plan with it instead of startup's guess. Off by default (the VPN does not send pairs yet).
   */
  measuresPacketPair?: boolean
  /**
   * The silence and tail-repair timeouts (4 x a variation + the ack delay) take their variation
   * from how late replies come against the reply deadline's own prediction (`replyLatenessMs`),
   * not from the RTT's variance. A paced path's RTT swings with its own pace queue by design
   * (0-40 ms), which the deadline already predicts send by send; counted again as variance it
   * stretched the down timeout to its ceiling: in the simulator's cut-busy run l2's rttvar was
   * 18.5 ms, l2 stayed up for 115 ms of silence and took new units (an inner retransmission
   * among them) into the void. Off by default (the VPN is unchanged; the sim sets it).
   */
  timeoutFromLateness?: boolean
}

/** Counters shown by `show`; plain numbers. */
export interface PathCounters {
  txPackets: number
  txBytes: number
  probes: number
  feedbacks: number
  nackedPackets: number
  /** Nacked packets judged drop-tail overflow (not repaired). */
  overflowPackets: number
  /** Units handed back because their reply was overdue while the path still answered. */
  tailRepairs: number
  downEvents: number
  /** Times the receiver's silence report (over another path) took the path down before its own timeout. */
  silenceDowns: number
}

/**
 * How many sends that should have arrived must be missing before a silence report counts: enough
 * that random loss at `lossRatio` explains them less than once in SILENCE_FALSE_ALARM (at least
 * UNANSWERED_FOR_SILENCE, at most SILENCE_EVIDENCE_MAX). At 5 % loss in the lab, two sufficed
 * twice in a 15 s CUBIC run: a burst on l2 whose last two packets were lost, then nothing sent
 * there for a while, looks like silence; l2 went down for nothing (17.47 Mbit/s, under l1 alone).
 */
export function silenceEvidence (lossRatio: number): number {
  if (!(lossRatio > 0)) return UNANSWERED_FOR_SILENCE
  if (lossRatio >= 1) return SILENCE_EVIDENCE_MAX
  const needed = Math.ceil(Math.log(SILENCE_FALSE_ALARM) / Math.log(lossRatio))
  return Math.min(SILENCE_EVIDENCE_MAX, Math.max(UNANSWERED_FOR_SILENCE, needed))
}

/**
 * Sender side of one path (a UDP 4-tuple, or a TCP subflow): its estimators, its state and the
 * record of what was sent on it. Every method takes `nowMs`; nothing here reads a clock.
 */
export class Path {
  /** For logs and `show`; a client renames its paths when the server's name moves to another address. */
  name: string
  preference: PathPreference
  weight: number
  txCapBitsPerSec: number
  readonly probeIntervalMs: number
  readonly downFloorMs: number
  readonly maxAckDelayMs: number
  readonly isPaced: boolean
  readonly paceBurstBytes: number
  readonly probesUnderLoad: boolean
  readonly timeoutFromLateness: boolean
  /**
   * Smoothed lateness of replies beyond their deadline's prediction (max(srtt, min RTT + the
   * send's modelled queue), less any late release from the pace queue): RTT_BETA's gain over
   * max(0, lateness); kept only with timeoutFromLateness. See PathOptions.timeoutFromLateness.
   */
  replyLatenessMs = 0
  /** See PathOptions.boundsStaleCorrections; a caller may switch it as the paths' delays become known. */
  boundsStaleCorrections: boolean
  /**
   * A packet pair's measurement (the planned share of it) stays the floor of the rate estimate
   * until a back-off, a restarted startup or down (RateEstimator.pairFloorBitsPerSec), and the
   * probe round's upward gain applies under load too. Paced at the plan, a busy path's delivery
   * samples never exceed it, so the estimate only wore down (equal delays: l1 19.46 -> 19.00,
   * l2 9.70 over 20 s, goodput 92.8-96.1 %); the pair measured the link, and the back-off on
   * the delay trend (which forgets it) is what says the link slowed.
   */
  keepsPairRate = false
  /**
   * Drop-tail overflow is told from random loss by a run: it needs OVERFLOW_RUN_NACKS nacked
   * sequences within OVERFLOW_RUN_SPAN of each other (hasNackRun), not just two nacks in one
   * feedback. Each nack rides in NACK_REPEATS feedbacks, so "two nacks" was any two random
   * losses a few dozen packets apart, and while a path is in rate startup its queue grows round
   * after round, always near the largest seen: on l2 with 5 % random loss nearly every such
   * pair was taken for overflow and abandoned, the inner flow saw each as a loss (two or three
   * cwnd cuts in its first second, ssthresh ~90 packets against a ~260-packet bond, 10-15 s of
   * CUBIC growth back: the simulator's 5 % loss row then rested on how the first window was
   * split). A buffer that overflows under a burst drops every other packet or more.
   * Off by default (the VPN keeps its behaviour); the simulator's gst design turns it on.
   */
  overflowNeedsRun = false
  state: PathState = 'probing'
  /** Time of the last state change. */
  stateSinceMs = 0
  readonly rtt = new RttEstimator()
  readonly delay = new OneWayDelayTrend()
  readonly loss = new LossEstimator()
  readonly rate = new RateEstimator()
  readonly pacer = new Pacer()
  readonly counters: PathCounters = { txPackets: 0, txBytes: 0, probes: 0, feedbacks: 0, nackedPackets: 0, overflowPackets: 0, tailRepairs: 0, downEvents: 0, silenceDowns: 0 }
  /**
   * Queueing delay (measured one-way) at which this path was seen dropping: its bottleneck
   * buffer. Infinity until a loss happens near the largest queue seen.
   */
  overflowQueueMs = Infinity
  private maxQueueSeenMs = 0
  // Windowed minimum of the modelled queue at each send, in two half-window buckets.
  private standingCurMs = Infinity
  private standingPrevMs = Infinity
  private standingStartMs = -Infinity
  /** Bytes queued outside our model (pipe mode: the subflow's unsent bytes), or -1 to use the model. */
  externalQueuedBytes = -1

  private nextSeq = 0
  private highestAckedSeq = -1
  private lastEchoSeq = -1
  readonly measuresPacketPair: boolean
  /** First per-path sequence of the latest packet pair (-1: none sent), when it went, and what the echo of its first packet said. */
  private pairSeq = -1
  private pairSentMs = -Infinity
  private pairRxMs = NaN
  private pairReceivedBytes = -1
  /** Packet pairs that measured the rate. */
  pairsMeasured = 0
  /** The bottleneck rate the latest packet pair measured (0: none, or forgotten once the path backed off or went down). */
  private pairRateBitsPerSec = 0
  private lastSendMs = -Infinity
  /** Send times of the last UNANSWERED_FOR_SILENCE sends, oldest first. */
  private readonly recentSendMs = new Float64Array(UNANSWERED_FOR_SILENCE).fill(-Infinity)
  private lastHeardMs = -Infinity
  private repliesInARow = 0
  private isAdminDown = false
  /**
   * The highest sequence a copy of our feedback over another path said had arrived. A dead path's
   * last feedbacks are lost with it, while a silence report (or a nack's copy) still comes: in the
   * lab the sender had heard of 2120 and the report said 2207, 87 units that a failover would
   * otherwise have sent again, half of its repairs.
   */
  private copiedHighestSeq = -1
  private lastBackOffMs = -Infinity
  /** Since when every busy sample in rate startup showed a bottleneck queue (Infinity: the last one did not). */
  private queuedSinceMs = Infinity
  /** Since when every sample after startup that the model queued long met a far shorter bottleneck queue (Infinity: the last one did not). */
  private drainedSinceMs = Infinity
  private repairScanSeq = 0
  // Delivery-rate anchor, in the receiver's clock.
  private anchorBytes = -1
  private anchorRxMs = 0
  private anchorSeq = -1
  private anchorPackets = 0
  /** The latest send that found the path idle (nothing queued ahead of it). */
  private lastIdleSeq = -1
  /** holdNext idled the path before the next send: the delivery samples spanning it measure our pause, not the path. */
  private isHeld = false
  private lastReceivedPackets = 0
  // Send records, indexed by pathSeq & (SEND_RING_SIZE - 1).
  private readonly sentMs = new Float64Array(SEND_RING_SIZE)
  private readonly sentUnit = new Float64Array(SEND_RING_SIZE).fill(-1)
  /** Predicted time from hand-over until the send left the bottleneck (pace wait, queue, own serialisation). */
  private readonly sentQueueMs = new Float32Array(SEND_RING_SIZE)
  private readonly sentBytes = new Float32Array(SEND_RING_SIZE)
  /** The pacer's correction sum when each send was handed over (see Pacer.correctedMs). */
  private readonly sentCorrectedMs = new Float64Array(SEND_RING_SIZE)
  /**
   * When each send really left (the send time, unless a paced caller queued it: Infinity until
   * released). Reply deadlines move by how late that was, and a gap the receiver saw because a
   * later send overtook a queued one (a sparse flow's packet skips the pace queue) is not a loss.
   */
  private readonly sentReleaseMs = new Float64Array(SEND_RING_SIZE)
  private readonly sentBusy = new Uint8Array(SEND_RING_SIZE)
  private readonly runScratch: number[] = []
  /** lastIdleSeq as of each send: a delivery sample is app-limited if the path idled anywhere in it. */
  private readonly sentLastIdleSeq = new Float64Array(SEND_RING_SIZE)
  private readonly signals: PathSignals = {
    repliesInARow: 0, overdueMs: 0, degradeAfterMs: 0, downAfterMs: 0, lossRatio: 0, isBackup: false, isAdminDown: false, isReportedSilent: false,
  }

  constructor (readonly id: number, options: PathOptions = {}) {
    this.name = options.name ?? `path${id}`
    this.preference = options.preference ?? 'primary'
    this.txCapBitsPerSec = options.txCapBitsPerSec ?? 0
    this.weight = options.weight ?? (this.txCapBitsPerSec > 0 ? this.txCapBitsPerSec : 1)
    this.probeIntervalMs = options.probeIntervalMs ?? DEFAULT_PROBE_INTERVAL_MS
    this.downFloorMs = options.downFloorMs ?? DEFAULT_DOWN_FLOOR_MS
    this.maxAckDelayMs = options.maxAckDelayMs ?? DEFAULT_FEEDBACK_INTERVAL_MS
    this.isPaced = options.isPaced ?? false
    this.paceBurstBytes = options.paceBurstBytes ?? PACING_BURST_BYTES
    this.probesUnderLoad = options.probesUnderLoad ?? false
    this.boundsStaleCorrections = options.boundsStaleCorrections ?? false
    this.measuresPacketPair = options.measuresPacketPair ?? false
    this.timeoutFromLateness = options.timeoutFromLateness ?? false
    this.pacer.setRate(this.planningRateBitsPerSec(), 0)
  }

  /**
   * Record a send and return the per-path sequence to stamp on it (with `txTimeMs = nowMs`).
   * `unitId` (>= 0) is the caller's handle for the payload, returned if it needs repair.
   */
  onSend (bytes: number, nowMs: number, unitId = -1): number {
    const seq = this.nextSeq++
    const slot = seq & (SEND_RING_SIZE - 1)
    this.sentMs[slot] = nowMs
    this.sentReleaseMs[slot] = nowMs
    this.sentUnit[slot] = unitId
    this.sentBytes[slot] = bytes
    this.sentCorrectedMs[slot] = this.pacer.correctedMs
    this.pacer.burstBytes = this.isPacedNow() ? this.paceBurstBytes : 0
    const queueMs = this.pacer.queueDelayMs(0, nowMs)
    this.sentQueueMs[slot] = this.pacer.queueDelayMs(bytes, nowMs)
    if (nowMs - this.standingStartMs >= STANDING_WINDOW_MS / 2) {
      this.standingPrevMs = nowMs - this.standingStartMs < STANDING_WINDOW_MS ? this.standingCurMs : Infinity
      this.standingCurMs = Infinity
      this.standingStartMs = nowMs
    }
    if (queueMs < this.standingCurMs) this.standingCurMs = queueMs
    this.sentBusy[slot] = this.pacer.backlogAt(nowMs) > 0 ? 1 : 0
    // Samples spanning this send measure us, not the path, if the path idled before it, if we
    // held it (holdNext), or if we paced it below the estimate (the drain phase's 0.9: a busy
    // path's samples then said 0.9 x the estimate, a window later that was the estimate, and
    // since a paced, busy path never probes upward, it spiralled down: l1 20 -> 16.8 Mbit/s).
    if (this.sentBusy[slot] === 0 || this.isHeld || (this.isPacedNow() && this.rate.gain < 1)) this.lastIdleSeq = seq
    this.isHeld = false
    this.sentLastIdleSeq[slot] = this.lastIdleSeq
    this.pacer.onSend(bytes, nowMs)
    this.lastSendMs = nowMs
    this.recentSendMs.copyWithin(0, 1)
    this.recentSendMs[UNANSWERED_FOR_SILENCE - 1] = nowMs
    this.counters.txPackets++
    this.counters.txBytes += bytes
    if (unitId < 0) this.counters.probes++
    return seq
  }

  /**
   * A small packet outside the path's sequence (feedback, an abandon notice) went out at once,
   * ahead of any pace queue: it delays whatever is queued behind it by its serialisation
   * (Pacer.onUnpacedSend). Uncounted, a path planned at exactly its link's rate fell behind its
   * model by each such packet, for good (nothing drains a schedule that runs at the link's rate).
   */
  onUnsequencedSend (bytes: number, nowMs: number): void {
    // Only on a paced path: unpaced (in rate startup) the model is re-anchored to every sample,
    // and counted there, control packets made an app-limited path's sends look busy.
    if (!this.isPacedNow()) return
    this.pacer.burstBytes = this.paceBurstBytes
    this.pacer.onUnpacedSend(bytes, nowMs)
  }

  /** A paced caller queued send `seq` instead of sending it: no reply is due before it is released. */
  markQueued (seq: number): void {
    if (seq >= this.nextSeq || seq <= this.nextSeq - SEND_RING_SIZE) return
    this.sentReleaseMs[seq & (SEND_RING_SIZE - 1)] = Infinity
  }

  /** A paced caller released send `seq` at `nowMs`: its reply is due that much later than predicted, if late. */
  markReleased (seq: number, nowMs: number): void {
    if (seq >= this.nextSeq || seq <= this.nextSeq - SEND_RING_SIZE) return
    this.sentReleaseMs[seq & (SEND_RING_SIZE - 1)] = nowMs
  }

  /**
   * Whether the caller should send a packet pair now: two packets of the same size back to back
   * (`onPacketPairSent` with the first one's sequence), each answered at once by the receiver
   * (feedback for a probe is urgent). Due while the rate is still startup's guess and nothing
   * measured it, at most once per probe interval (a pair may be lost), and only once a small
   * probe answered: the pair's packets carry their own serialisation in their one-way delay, and
   * as the path's first samples they set its baseline that much too high (0.6 ms on l1, 1.2 on
   * l2: every l2 unit of the equal-delay run then overtook the l1 unit before it).
   */
  isPacketPairDue (nowMs: number): boolean {
    return this.measuresPacketPair && this.state !== 'down' && this.rtt.hasSample() && this.rate.inStartup && !this.rate.hasEstimate() &&
      nowMs - this.pairSentMs >= this.probeIntervalMs
  }

  /** The caller sent a packet pair whose first packet has per-path sequence `firstSeq` (the second is `firstSeq + 1`). */
  onPacketPairSent (firstSeq: number, nowMs: number): void {
    this.pairSeq = firstSeq
    this.pairSentMs = nowMs
    this.pairRxMs = NaN
    this.pairReceivedBytes = -1
  }

  /**
   * The echo of a pair's packet: the first one's arrival and byte count are kept; the second's,
   * with nothing else received in between, gives the bottleneck rate (its bytes over the gap).
   */
  private onPairEcho (fb: PathFeedback, slot: number, nowMs: number): void {
    if (fb.echoSeq === this.pairSeq) {
      this.pairRxMs = fb.echoRxTimeMs
      this.pairReceivedBytes = fb.receivedBytes
      return
    }
    if (fb.echoSeq !== this.pairSeq + 1) return
    const gapMs = fb.echoRxTimeMs - this.pairRxMs
    const bytes = this.sentBytes[slot]!
    this.pairSeq = -1
    if (!(gapMs > 0) || fb.receivedBytes - this.pairReceivedBytes !== bytes) return
    if (!this.rate.setFromPacketPair((PAIR_RATE_SHARE * bytes * 8000) / gapMs, nowMs, this.keepsPairRate)) return
    this.pairsMeasured++
    // The plan keeps PAIR_RATE_SHARE of the rate; the departure model drains at all of it (at the
    // share it ran 0.02 ms a packet slow, and a burst paced out at a probe gain's 1.25 arrived up
    // to 0.7 ms before the model said: ahead of the other path's unit planned after it).
    this.pairRateBitsPerSec = (bytes * 8000) / gapMs
  }

  /** The variation the silence and tail-repair timeouts allow for (see PathOptions.timeoutFromLateness). */
  private timeoutVariationMs (): number {
    return this.timeoutFromLateness ? this.replyLatenessMs : this.rtt.rttVarMs
  }

  /** Whether the caller holds sends in a pace queue now (it does not during rate startup, when the rate is unknown). */
  isPacedNow (): boolean {
    return this.isPaced && !this.rate.inStartup && this.externalQueuedBytes < 0
  }

  /** How long send `slot` waited in the caller's pace queue (0 when it left at once or nobody said). */
  private paceWaitMs (slot: number): number {
    const waitMs = this.sentReleaseMs[slot]! - this.sentMs[slot]!
    return Number.isFinite(waitMs) && waitMs > 0 ? waitMs : 0
  }

  /** How much later than the model's wait (own serialisation included) send `slot` left; Infinity while queued. */
  private lateMs (slot: number): number {
    return Math.max(0, this.sentReleaseMs[slot]! - this.sentMs[slot]! - this.sentQueueMs[slot]!)
  }

  /**
   * Whether the caller should send a probe on this path now: fewer than UNANSWERED_FOR_SILENCE
   * sends in the last probe interval, so an idle path gets a small train of probes each interval.
   */
  isProbeDue (nowMs: number): boolean {
    if (nowMs - this.recentSendMs[0]! < this.probeIntervalMs) return false
    // Sends waiting in a paced caller's queue will prove the path soon enough; a probe would
    // overtake them, and the receiver would count every one of them as lost (a 120 ms pace
    // queue after startup made l1 look 50 % lossy, degraded, for two seconds).
    return !(this.isPacedNow() && this.pacer.backlogAt(nowMs) > this.paceBurstBytes)
  }

  /**
   * Feedback about this path arrived. Per-path sequences it nacks that carried a unit are pushed
   * onto `lostUnits` (if given) so the caller can send them again on another path; units lost to
   * drop-tail overflow, which are deliberately not repaired, go to `abandonedUnits` (if given) so
   * the caller can tell the receiver not to wait for them.
   */
  /**
   * A new handshake's session: the peer's receiver starts afresh (it may be a restarted process),
   * so its counts start again at 0 and its clock may be another one. The baselines compared with
   * them start again; our own sequences go on.
   */
  onNewSession (): void {
    this.highestAckedSeq = this.nextSeq - 1
    this.lastReceivedPackets = 0
    this.anchorBytes = -1
    this.delay.restart()
  }

  /**
   * `isCopy`: a copy of the path's feedback that came over another path (sent there for its nacks,
   * which then start a repair sooner, or as a silence report): only its nacks, its highest
   * sequence (what arrived is not sent again at a failover) and its silence (onSilenceReport) are
   * used. It takes no RTT sample and is no reply from this path.
   */
  onFeedback (fb: PathFeedback, nowMs: number, lostUnits?: number[], abandonedUnits?: number[], isCopy = false): void {
    this.counters.feedbacks++
    if (fb.highestSeq >= this.nextSeq) return // about packets we never sent: ignore
    if (!isCopy && fb.echoSeq > this.lastEchoSeq && fb.echoSeq > this.nextSeq - SEND_RING_SIZE) {
      this.lastEchoSeq = fb.echoSeq
      const slot = fb.echoSeq & (SEND_RING_SIZE - 1)
      if (this.pairSeq >= 0) this.onPairEcho(fb, slot, nowMs)
      // What the echoed send spent in our own pace queue and on its own serialisation is known,
      // not path delay: the baselines (min RTT, min one-way delay) and the measured bottleneck
      // queue leave it out. Counted in, a path kept busy for a whole filter window took its
      // standing pace queue for propagation (both paths of the equal-delay run looked 8-11 ms
      // longer than they are after 10 s) and random losses behind a full pace queue looked
      // like drop-tail overflow.
      // (Serialisation only once the rate is known: at startup's guess a packet's would be far too long.)
      // (Serialisation never more than the sample's RTT over the min: with an estimate far too
      // low, a probe's rate, a data packet's 'serialisation' of ~100 ms was taken out of its
      // one-way delay, the baseline fell by that much, and for a whole filter window every
      // sample after the estimate recovered looked like ~100 ms of queue.)
      const rttMs = nowMs - fb.echoTxTimeMs - fb.ackDelayMs
      if (this.timeoutFromLateness && this.rtt.hasSample()) {
        const lateByMs = rttMs - this.lateMs(slot) - Math.max(this.rtt.srttMs, this.rtt.minRttMs + this.sentQueueMs[slot]!)
        this.replyLatenessMs += RTT_BETA * (Math.max(0, lateByMs) - this.replyLatenessMs)
      }
      const excessMs = Number.isFinite(this.rtt.minRttMs) ? Math.max(0, rttMs - this.paceWaitMs(slot) - this.rtt.minRttMs) : 0
      const serMs = this.rate.inStartup ? 0 : Math.min(excessMs, (this.sentBytes[slot]! * 8000) / this.rate.estimateBitsPerSec)
      const ownMs = this.paceWaitMs(slot) + serMs
      this.rtt.addSample(rttMs, nowMs, rttMs - ownMs)
      this.delay.addSample(fb.echoTxTimeMs + ownMs, fb.echoRxTimeMs, nowMs)
      const queueMs = this.delay.latestQueueDelayMs()
      if (queueMs > this.maxQueueSeenMs) this.maxQueueSeenMs = queueMs
      const correctedSinceMs = this.pacer.correctedMs - this.sentCorrectedMs[slot]!
      this.checkQueueModel(Math.max(0, this.sentQueueMs[slot]! - ownMs), correctedSinceMs, this.sentBusy[slot] === 1, nowMs)
      // A sample spans the sends from the anchor's to this one: if the path idled anywhere in
      // between, it measured our offered load, not the path (a few packets on a mostly idle path).
      this.sampleDeliveryRate(fb, this.sentLastIdleSeq[slot]! > this.anchorSeq, nowMs)
    }
    // Losses while the queue is near the largest seen are drop-tail overflow: remember the buffer,
    // and do not repair them: that loss is the inner flow's congestion signal, hiding it would
    // only make the flow push harder into a full queue.
    // Drop-tail overflow under a bursty flow drops runs of packets; random loss drops one here
    // and there, so a lone nack is always repaired.
    const isOverflow = fb.nackCount >= 2 && this.maxQueueSeenMs > QUEUE_EXCESS_MS &&
      this.delay.latestQueueDelayMs() >= 0.7 * this.maxQueueSeenMs &&
      (!this.overflowNeedsRun || hasNackRun(fb.nacks, fb.nackCount, this.runScratch))
    if (isOverflow) this.overflowQueueMs = this.maxQueueSeenMs
    const highest = fb.highestSeq > this.nextSeq - SEND_RING_SIZE ? fb.highestSeq & (SEND_RING_SIZE - 1) : -1
    for (let i = 0; i < fb.nackCount; i++) {
      const seq = fb.nacks[i]!
      if (seq >= this.nextSeq || seq <= this.nextSeq - SEND_RING_SIZE) continue
      const slot = seq & (SEND_RING_SIZE - 1)
      // Left after the packet that revealed the gap (it overtook a queued one): late, not lost.
      if (highest >= 0 && this.sentReleaseMs[slot]! > this.sentReleaseMs[highest]!) continue
      const unit = this.sentUnit[slot]!
      this.counters.nackedPackets++
      if (isOverflow) {
        this.counters.overflowPackets++
        if (unit >= 0 && abandonedUnits) abandonedUnits.push(unit)
      } else if (unit >= 0 && lostUnits) {
        lostUnits.push(unit)
      }
      this.sentUnit[slot] = -1
    }
    // The original follows over the path itself: the counts wait for it.
    if (isCopy) {
      if (fb.highestSeq > this.copiedHighestSeq) this.copiedHighestSeq = fb.highestSeq
      // (A nack's copy goes out as its gap shows, so its silence is short: below the floor, no report.)
      if (fb.ackDelayMs >= SILENCE_REPORT_FLOOR_MS) this.onSilenceReport(fb.highestSeq, fb.ackDelayMs, nowMs, lostUnits)
      return
    }
    // A feedback that reports nothing new while our sends are outstanding (the receiver's repeat
    // of a burst's last feedback, a delayed nack) proves only the way back: it is no answer. When
    // only the forward way is cut, it would make the path look alive for 10 ms longer.
    const isAnswer = fb.highestSeq > this.highestAckedSeq || this.highestAckedSeq >= this.nextSeq - 1
    if (fb.highestSeq > this.highestAckedSeq) {
      // The loss ratio is the path's own (random) loss: overflow is congestion, priced by the queue
      // budget, and so are losses in rate startup that came with a queue or in a run: our own
      // probing overfilled the buffer. Scattered losses at an empty queue are the path's, startup
      // or not: an app-limited path can stay in startup for good (a CUBIC flow at 2.2 Mbit/s on
      // l2 alone with 5 % loss did for 15 s), and its loss ratio then read 0, so FEC stayed off.
      const isStartupOverflow = this.rate.inStartup && (this.delay.latestQueueDelayMs() > QUEUE_EXCESS_MS || hasNackRun(fb.nacks, fb.nackCount, this.runScratch))
      const overflowNacks = isOverflow || isStartupOverflow ? fb.nackCount : 0
      // The first answer of a path that was down covers the probes sent into its outage: lost to
      // the cut, not to random loss (counted, they kept FEC on for seconds after a restore).
      if (this.state !== 'down') this.loss.addSpan(fb.highestSeq - this.highestAckedSeq, fb.receivedPackets - this.lastReceivedPackets + overflowNacks)
      this.highestAckedSeq = fb.highestSeq
      this.lastReceivedPackets = fb.receivedPackets
    }
    if (isAnswer) {
      this.repliesInARow++
      this.lastHeardMs = nowMs
    }
    this.update(nowMs)
  }

  /**
   * A copy of this path's feedback (over another path) says the receiver has heard nothing newer
   * than `highestSeq` for `silentMs` (PathReceiver.silenceReportDue). Sends that left soon enough
   * after that one would have arrived by now on a live path, whatever its delay: their spacing
   * here is their spacing there. When enough of them (silenceEvidence) left within the
   * silence less a margin for jitter, the path is down at once and hands back what it had not
   * delivered, instead of after its own round trip and timeout. A report about sends we never
   * made (an idle path, a stale report the path has answered past) changes nothing.
   */
  onSilenceReport (highestSeq: number, silentMs: number, nowMs: number, reinjectUnits?: number[]): void {
    if (this.state === 'down' || highestSeq < this.highestAckedSeq) return
    if (highestSeq <= this.nextSeq - SEND_RING_SIZE || highestSeq >= this.nextSeq - UNANSWERED_FOR_SILENCE) return
    const lastArrivedLeftMs = this.sentReleaseMs[highestSeq & (SEND_RING_SIZE - 1)]!
    const withinMs = silentMs - Math.max(SILENCE_MARGIN_MS, 2 * this.timeoutVariationMs())
    const needed = silenceEvidence(this.loss.lossRatio)
    let missing = 0
    for (let seq = highestSeq + 1; seq < this.nextSeq && missing < needed; seq++) {
      // Still in the pace queue (Infinity) or left too late to be due: the ones after left later still.
      if (!(this.sentReleaseMs[seq & (SEND_RING_SIZE - 1)]! - lastArrivedLeftMs <= withinMs)) break
      missing++
    }
    if (missing < needed) return
    this.counters.silenceDowns++
    this.update(nowMs, reinjectUnits, true)
  }

  /** Pipe mode: the subflow proved alive (e.g. TCP acked our data); counts as a reply to all sent. */
  markHeard (nowMs: number): void {
    this.highestAckedSeq = this.nextSeq - 1
    this.repliesInARow++
    this.lastHeardMs = nowMs
    this.update(nowMs)
  }

  /** Plain samples for callers that measure elsewhere (pipe mode: TCP_INFO). */
  addRttSample (rttMs: number, nowMs: number): void { this.rtt.addSample(rttMs, nowMs) }
  addDeliveryRateSample (rateBitsPerSec: number, nowMs: number, isAppLimited = false): void {
    this.rate.addSample(rateBitsPerSec, nowMs, isAppLimited)
    this.pacer.setRate(this.planningRateBitsPerSec(), nowMs, this.linkRateBitsPerSec())
  }

  /** With `reinjectUnits`, a path taken down hands back what it had not delivered (see update). */
  setAdminDown (isDown: boolean, nowMs: number, reinjectUnits?: number[]): void {
    this.isAdminDown = isDown
    this.update(nowMs, reinjectUnits)
  }

  /**
   * Time-driven transitions; call on every send and at least every probe interval. Units to send
   * again are pushed onto `reinjectUnits` (if given): those whose reply is overdue (tail loss),
   * and, when the path goes down, all it had not delivered. `isReportedSilent`: a silence report
   * proved it dead (onSilenceReport).
   */
  update (nowMs: number, reinjectUnits?: number[], isReportedSilent = false): PathState {
    const s = this.signals
    s.repliesInARow = this.repliesInARow
    s.overdueMs = this.overdueMs(nowMs)
    const rttTimeoutMs = 4 * this.timeoutVariationMs() + this.maxAckDelayMs
    s.degradeAfterMs = rttTimeoutMs + DEGRADE_MARGIN_MS
    s.downAfterMs = Math.min(Math.max(3 * rttTimeoutMs, this.downFloorMs), Math.max(DOWN_CEILING_MS, this.downFloorMs))
    s.lossRatio = this.loss.lossRatio
    s.isBackup = this.preference === 'backup'
    s.isAdminDown = this.isAdminDown
    s.isReportedSilent = isReportedSilent
    if (reinjectUnits && this.state !== 'down') this.takeOverdue(nowMs, reinjectUnits)
    const next = nextPathState(this.state, s)
    if (s.overdueMs > s.degradeAfterMs) this.repliesInARow = 0
    if (next !== this.state) {
      if (next === 'down') {
        this.counters.downEvents++
        this.repliesInARow = 0
        if (reinjectUnits) this.takeUnacked(reinjectUnits)
        // Its backlog is gone with it (handed back above, or lost): a path that answers again
        // starts with an empty queue, not behind what was queued before the cut.
        this.pacer.reset(nowMs)
        this.pairRateBitsPerSec = 0
        this.rate.pairFloorBitsPerSec = 0
        // Whatever was sent is written off: the next probe is the first one that must be answered.
        this.highestAckedSeq = this.nextSeq - 1
      }
      this.state = next
      this.stateSinceMs = nowMs
    }
    this.rate.advance(nowMs, this.rtt.minRttMs)
    this.pacer.burstBytes = this.isPacedNow() ? this.paceBurstBytes : 0
    this.pacer.setRate(this.planningRateBitsPerSec(), nowMs, this.linkRateBitsPerSec())
    return this.state
  }

  /**
   * Rate the scheduler plans with: estimate x gain, capped by the configured rate. An upward
   * probe gain only applies while our model of the queue is empty: a path with a queue is
   * already saturated (its delivery samples measure the bottleneck), and draining the model
   * faster than the link would only hide a real queue until it overflows. Except with
   * `probesUnderLoad`: a caller that keeps only a few ms queued at the bottleneck (the VPN's
   * bottleneck budget) never lets the model empty, and an estimate that fell (a back-off on a
   * busy host's delay spike) could never grow back; the probe round's extra queue is measured
   * and corrected like any other. And with `keepsPairRate` while the pair's rate holds: paced at
   * the plan, the estimate could otherwise never rise above the pair's planned share.
   */
  planningRateBitsPerSec (): number {
    const gain = this.rate.gain > 1 && !this.rate.inStartup && this.pacer.backlogBytes > 0 && !this.probesUnderLoad && !(this.keepsPairRate && this.rate.pairFloorBitsPerSec > 0) ? 1 : this.rate.gain
    const planned = this.rate.estimateBitsPerSec * gain
    return this.txCapBitsPerSec > 0 ? Math.min(planned, this.txCapBitsPerSec) : planned
  }

  /** Our best guess of the bottleneck's own rate: the estimate without gain (or a packet pair's measurement if higher), capped by the configured rate. */
  private linkRateBitsPerSec (): number {
    const estimate = Math.max(this.rate.estimateBitsPerSec, this.pairRateBitsPerSec)
    return this.txCapBitsPerSec > 0 ? Math.min(estimate, this.txCapBitsPerSec) : estimate
  }

  /** One-way propagation delay without queueing (half the min RTT: no clock sync, so symmetry is assumed). */
  baseDelayMs (): number {
    return Number.isFinite(this.rtt.minRttMs) ? this.rtt.minRttMs / 2 : INITIAL_REPLY_MS / 2
  }

  /** Delay `bytes` more would queue behind at the bottleneck (our model, or the caller's queue in pipe mode). */
  queueDelayMs (bytes: number, nowMs: number): number {
    return this.externalQueuedBytes >= 0
      ? ((this.externalQueuedBytes + bytes) * 8000) / this.planningRateBitsPerSec()
      : this.pacer.queueDelayMs(bytes, nowMs)
  }

  /**
   * A paced path holds its next unit of `bytes` for `byMs` longer than it would (idle time on the
   * path; the scheduler uses it to keep units sent on different paths from arriving at nearly
   * the same moment, where sub-millisecond model errors would swap them). No-op when not paced.
   */
  holdNext (bytes: number, byMs: number, nowMs: number): void {
    if (!(byMs > 0) || !this.isPacedNow()) return
    this.pacer.burstBytes = this.paceBurstBytes
    this.pacer.holdNextUntil(bytes, nowMs + this.pacer.queueDelayMs(bytes, nowMs) + byMs, nowMs)
    this.isHeld = true
  }

  /** The least queue over the last STANDING_WINDOW_MS (what stays when bursts have drained). */
  standingQueueMs (nowMs: number): number {
    const fresh = nowMs - this.standingStartMs < STANDING_WINDOW_MS
    const windowMin = fresh ? Math.min(this.standingCurMs, this.standingPrevMs) : Infinity
    return Math.min(windowMin, this.queueDelayMs(0, nowMs))
  }

  /**
   * Propagation delay for comparing paths of one peer: the minimum one-way delay as the peer
   * stamped it (sender clock -> receiver clock). The clock offset is the same on every path
   * between the same two hosts, so differences between paths are exact, where half the min RTT
   * assumes symmetric paths and mis-ranks paths by the reverse direction's delay. Falls back to
   * baseDelayMs() before any feedback (and in pipe mode, which has no one-way stamps).
   */
  relativeBaseDelayMs (): number {
    return Number.isFinite(this.delay.minRelMs) ? this.delay.minRelMs : this.baseDelayMs()
  }

  /**
   * When a unit of `bytes` handed over now is expected to arrive: propagation, plus the queue
   * ahead of it at the planned rate, plus the expected cost of a loss (a repair round trip).
   */
  expectedArrivalMs (bytes: number, nowMs: number): number {
    const queueMs = this.queueDelayMs(bytes, nowMs)
    const repairMs = this.loss.lossRatio * (this.rtt.hasSample() ? this.rtt.srttMs : INITIAL_REPLY_MS)
    return nowMs + this.baseDelayMs() + queueMs + repairMs
  }

  /**
   * Expected arrival of a unit of a sparse flow that the caller sends ahead of the path's pace
   * queue (it skips the queue in our pacer, not one at the bottleneck): on a paced path only its
   * own serialisation, on an unpaced one the whole modelled queue, which is at the bottleneck.
   * One-way base delays, like `auto` (comparable across paths of one peer).
   */
  sparseArrivalMs (bytes: number, nowMs: number): number {
    const queueMs = this.isPaced && this.externalQueuedBytes < 0
      ? (bytes * 8000) / this.planningRateBitsPerSec()
      : this.queueDelayMs(bytes, nowMs)
    const repairMs = this.loss.lossRatio * (this.rtt.hasSample() ? this.rtt.srttMs : INITIAL_REPLY_MS)
    return nowMs + this.relativeBaseDelayMs() + queueMs + repairMs
  }

  /**
   * How long the path has been silent beyond what we expect (<= 0: in time). Two clocks, the
   * smaller wins: the unanswered sends past their expected reply (its RTT plus the queue our
   * model predicted for it), and the time since any feedback beyond one ack delay. A busy path
   * behind a growing queue keeps sending feedback, so only a truly silent path runs up both.
   */
  overdueMs (nowMs: number): number {
    // Judged on the last of the first few unanswered sends, as many as random loss would explain
    // less than once in 10^4 (silenceEvidence: 2 on a clean path, 4 at 5 %). With 2 on a lossy
    // sparse path, the two last sends of a burst both lost, then nothing sent for 100 ms, took it
    // down: l2 alone with 5 % loss under CUBIC went down 1-3 times in 15 s.
    const first = this.highestAckedSeq + silenceEvidence(this.loss.lossRatio)
    if (first >= this.nextSeq || first <= this.nextSeq - SEND_RING_SIZE) return 0
    const slot = first & (SEND_RING_SIZE - 1)
    const expectMs = this.rtt.hasSample()
      ? Math.max(this.rtt.srttMs, this.rtt.minRttMs + this.sentQueueMs[slot]!) + this.maxAckDelayMs
      : INITIAL_REPLY_MS
    const bySend = nowMs - this.sentMs[slot]! - this.lateMs(slot) - expectMs
    const byFeedback = nowMs - this.lastHeardMs - this.maxAckDelayMs
    return Math.min(bySend, byFeedback)
  }

  /**
   * Tail-loss repair (RACK/TLP-like): a unit whose reply is overdue by more than the RTT timeout
   * is handed back for repair even while the path answers, since a loss at the tail of a
   * sparse path is only nacked when the next packet arrives, which may be long after. If it
   * was merely late, the receiver drops the duplicate.
   */
  private takeOverdue (nowMs: number, out: number[]): void {
    if (!this.rtt.hasSample()) return
    const timeoutMs = 4 * this.timeoutVariationMs() + this.maxAckDelayMs + DEGRADE_MARGIN_MS
    const from = Math.max(this.highestAckedSeq + 1, this.repairScanSeq, this.nextSeq - SEND_RING_SIZE + 1)
    let seq = from
    for (; seq < this.nextSeq; seq++) {
      const slot = seq & (SEND_RING_SIZE - 1)
      const expectMs = Math.max(this.rtt.srttMs, this.rtt.minRttMs + this.sentQueueMs[slot]!) + this.maxAckDelayMs
      if (nowMs - this.sentMs[slot]! - this.lateMs(slot) < expectMs + timeoutMs) break
      const unit = this.sentUnit[slot]!
      if (unit >= 0) { out.push(unit); this.counters.tailRepairs++ }
      this.sentUnit[slot] = -1
    }
    this.repairScanSeq = seq
  }

  private takeUnacked (out: number[]): void {
    // What a copy over another path said arrived is not sent again (its own feedback went the dead way).
    const from = Math.max(this.highestAckedSeq + 1, this.copiedHighestSeq + 1, this.nextSeq - SEND_RING_SIZE + 1)
    for (let seq = from; seq < this.nextSeq; seq++) {
      const slot = seq & (SEND_RING_SIZE - 1)
      const unit = this.sentUnit[slot]!
      if (unit >= 0) out.push(unit)
      this.sentUnit[slot] = -1
    }
  }

  /**
   * Compares the queueing a packet really met with what the model predicted for it: the model is
   * re-anchored every time, and far more queueing than predicted means the rate estimate is too
   * high: back off (once per round).
   */
  private checkQueueModel (predictedMs: number, correctedSinceMs: number, wasBusy: boolean, nowMs: number): void {
    const measuredMs = this.delay.latestQueueDelayMs()
    // The departure schedule is re-anchored on every path (a paced one's pace queue is exact, but
    // the bottleneck behind it drains at the link's rate, not at our estimate of it).
    this.pacer.burstBytes = this.isPacedNow() ? this.paceBurstBytes : 0
    if (this.externalQueuedBytes < 0) {
      // With `boundsStaleCorrections`: the shifts applied since the send cancel at most the queue
      // predicted for it (a queue is never negative, see PathOptions).
      const sincePredictedMs = predictedMs + correctedSinceMs
      this.pacer.correct(measuredMs, this.boundsStaleCorrections ? Math.max(0, sincePredictedMs) : sincePredictedMs, nowMs)
    }
    // The mirror image: the model queued a send far longer than the bottleneck did, in every
    // sample that could tell for a whole round: the estimate is far too low (left at a probe's
    // rate by an idle start, one 1400-byte packet was 112 ms of modelled queue, so `auto`'s
    // bottleneck budget let the path carry one packet per ~100 ms and it never proved more: l1
    // carried nothing for 12 s of a lab run), so search again. Relative, not absolute: a busy
    // host's delay noise is a few ms. Unpaced paths only: a paced one's bottleneck is empty by design.
    if (!this.rate.inStartup && !this.isPacedNow() && predictedMs > STARVED_MODEL_MS) {
      if (measuredMs >= predictedMs / 4) {
        this.drainedSinceMs = Infinity
      } else {
        if (this.drainedSinceMs === Infinity) this.drainedSinceMs = nowMs
        if (nowMs - this.drainedSinceMs >= Math.max(MIN_ROUND_MS, Number.isFinite(this.rtt.minRttMs) ? this.rtt.minRttMs : 0)) {
          this.drainedSinceMs = Infinity
          this.rate.restartStartup(nowMs)
          this.pairRateBitsPerSec = 0
          return
        }
      }
    }
    // Only a path we kept busy can prove its rate too high: on an idle path (probes only) a delay
    // blip is noise, and backing off there would leave startup with a probe-sized estimate that
    // `auto` then never gives the traffic to correct (the path starves after a quiet second).
    if (!wasBusy) return
    if (this.rate.inStartup) {
      // In rate startup the model is re-anchored to every sample, so it never looks wrong; a
      // bottleneck queue over QUEUE_EXCESS_MS in every busy sample for a whole round is the pipe
      // filling (HyStart++'s delay test on a round's minimum, so a busy host's delay spike is not
      // taken for it): startup ends there, before the buffer overflows. Without it a path that
      // had carried only an app-limited flow was still in startup when the bulk came, and the
      // bond overflowed its buffer (cut-idle's stall 383-422 ms).
      if (measuredMs <= QUEUE_EXCESS_MS) { this.queuedSinceMs = Infinity; return }
      if (this.queuedSinceMs === Infinity) this.queuedSinceMs = nowMs
      // It keeps the estimate (a full pipe was measured), where backOff would take the latest
      // sample, which on a busy host can be any low value, and a path left with a low estimate
      // is given too little traffic to ever correct it.
      if (nowMs - this.queuedSinceMs >= Math.max(MIN_ROUND_MS, Number.isFinite(this.rtt.minRttMs) ? this.rtt.minRttMs : 0)) this.rate.endStartup(nowMs)
      return
    }
    if (measuredMs <= predictedMs * 1.25 + QUEUE_EXCESS_MS) return
    if (nowMs - this.lastBackOffMs < Math.max(this.rtt.srttMs, 50)) return
    this.lastBackOffMs = nowMs
    this.rate.backOff(nowMs)
    this.pairRateBitsPerSec = 0 // the path drains slower than the pair said: it is no longer the link's rate
  }

  private sampleDeliveryRate (fb: PathFeedback, isAppLimited: boolean, nowMs: number): void {
    if (this.anchorBytes < 0 || fb.receivedBytes < this.anchorBytes) {
      this.moveAnchor(fb)
      return
    }
    const spanMs = fb.echoRxTimeMs - this.anchorRxMs
    if (spanMs < Math.max(20, this.rtt.minRttMs / 4)) return
    // A span of a few packets measures their spacing, not the bottleneck, even when our model
    // counted the path busy through it: after a receiver stall the model re-anchors to the late
    // arrival's "queue", and the next probe, sent 'behind' it, gave a 64-byte sample over 44 ms
    // (0.012 Mbit/s) that replaced startup's 2 Mbit/s guess; from there every probe looked busy
    // and the path starved. Such a sample may raise the estimate but never lower it.
    const isFewPackets = fb.receivedPackets - this.anchorPackets < MIN_SAMPLE_PACKETS
    this.rate.addSample(((fb.receivedBytes - this.anchorBytes) * 8000) / spanMs, nowMs, isAppLimited || isFewPackets)
    this.moveAnchor(fb)
  }

  private moveAnchor (fb: PathFeedback): void {
    this.anchorBytes = fb.receivedBytes
    this.anchorPackets = fb.receivedPackets
    this.anchorRxMs = fb.echoRxTimeMs
    this.anchorSeq = fb.echoSeq
  }
}

/**
 * A packet pair measures the link's exact rate; planning with a little less keeps the departure
 * model's premise (a link slightly faster than our estimate has sent the unit before by the time
 * the next is released) true, as it is with delivery-rate samples, which always read a little low.
 */
const PAIR_RATE_SHARE = 0.97
