import {
  INITIAL_RATE_BITS_PER_SEC, RATE_WINDOW_MS, BACK_OFF_FACTOR, STARTUP_GAIN, STARTUP_FLAT_ROUNDS, PROBE_GAINS, MIN_ROUND_MS,
} from './constants.js'

/**
 * Bottleneck rate of one path, learned from delivery-rate samples with no configured rate
 * (BBR's idea, simplified): the estimate is the windowed maximum of samples; samples taken while
 * we did not keep the path busy ("app-limited") may raise it but never lower it. The rate the
 * scheduler plans with is the estimate times a gain: 2 during startup (while the estimate keeps
 * growing), then a cycle that probes 25 % upward for one round and drains for one. When the
 * sender sees more queueing than its own model explains, `backOff` drops the estimate to what
 * was actually delivered.
 */
export class RateEstimator {
  estimateBitsPerSec = INITIAL_RATE_BITS_PER_SEC
  latestSampleBitsPerSec = 0
  inStartup = true
  /** Current gain (1 = plan with the estimate as is). */
  gain = STARTUP_GAIN
  private hasSample = false
  /** A packet pair's measurement the estimate does not fall under until a back-off (setFromPacketPair's `keepsFloor`; 0: none). */
  pairFloorBitsPerSec = 0
  // Windowed max as two half-window buckets: cheap, and a stale maximum ages out within a window.
  private maxCurBps = 0
  private maxPrevBps = 0
  private bucketStartMs = -Infinity
  private roundStartMs = -Infinity
  private fullBwBps = 0
  private flatRounds = 0
  private cycleIndex = 0
  private sampledThisRound = false

  hasEstimate (): boolean { return this.hasSample }

  addSample (rateBitsPerSec: number, nowMs: number, isAppLimited: boolean): void {
    if (!(rateBitsPerSec > 0) || !Number.isFinite(rateBitsPerSec)) return
    this.latestSampleBitsPerSec = rateBitsPerSec
    if (isAppLimited && rateBitsPerSec <= this.estimateBitsPerSec) return
    this.rotate(nowMs)
    if (rateBitsPerSec > this.maxCurBps) this.maxCurBps = rateBitsPerSec
    this.hasSample = true
    if (!isAppLimited) this.sampledThisRound = true
    this.estimateBitsPerSec = Math.max(this.maxCurBps, this.maxPrevBps, this.pairFloorBitsPerSec)
  }

  /**
   * Our model under-predicts the queue: plan with what the path really delivered, but drop by
   * at most BACK_OFF_FACTOR per call (a sparse path's latest sample says little; repeated calls,
   * once per round, still converge geometrically).
   */
  backOff (nowMs: number): void {
    this.pairFloorBitsPerSec = 0
    const delivered = this.latestSampleBitsPerSec > 0 ? this.latestSampleBitsPerSec : this.estimateBitsPerSec
    this.estimateBitsPerSec = Math.min(this.estimateBitsPerSec, Math.max(delivered, BACK_OFF_FACTOR * this.estimateBitsPerSec))
    this.maxCurBps = this.estimateBitsPerSec
    this.maxPrevBps = 0
    this.bucketStartMs = nowMs
    this.inStartup = false
    this.cycleIndex = 1 // drain phase next
    this.gain = PROBE_GAINS[1]!
    this.roundStartMs = nowMs
  }

  /**
   * The pipe is full (the bottleneck held a queue for a whole round in startup): leave startup
   * with the estimate as it is (it measured a full pipe) and drain what startup queued, as BBR does.
   */
  endStartup (nowMs: number): void {
    if (!this.inStartup) return
    this.inStartup = false
    this.cycleIndex = 1 // drain phase next
    this.gain = PROBE_GAINS[1]!
    this.roundStartMs = nowMs
  }

  /**
   * A packet pair measured the bottleneck's rate before the path carried data (two packets sent
   * back to back leave the bottleneck one serialisation apart): plan with it at once, with no
   * startup. Startup's doubling from a guess is what overfilled a bottleneck whose queue the
   * model did not know yet. Only while still in startup with no delivery sample (a path that
   * carried data has better evidence).
   */
  setFromPacketPair (rateBitsPerSec: number, nowMs: number, keepsFloor = false): boolean {
    if (!this.inStartup || this.hasSample || !(rateBitsPerSec > 0) || !Number.isFinite(rateBitsPerSec)) return false
    if (keepsFloor) this.pairFloorBitsPerSec = rateBitsPerSec
    this.estimateBitsPerSec = rateBitsPerSec
    this.latestSampleBitsPerSec = rateBitsPerSec
    this.maxCurBps = rateBitsPerSec
    this.maxPrevBps = 0
    this.bucketStartMs = nowMs
    this.hasSample = true
    this.inStartup = false
    this.cycleIndex = PROBE_GAINS.length - 1 // cruise; the next round probes upward
    this.gain = PROBE_GAINS[this.cycleIndex]!
    this.roundStartMs = nowMs
    return true
  }

  /**
   * The estimate is far too low (the path drained a queue we modelled as full, for a whole
   * round): search again from it with startup's gain, as a new path would. Startup ends as
   * usual, once the bottleneck holds a queue for a round.
   */
  restartStartup (nowMs: number, floorBitsPerSec = 0): void {
    this.pairFloorBitsPerSec = 0
    // From at least `floorBitsPerSec` (e.g. startup's first guess), when the estimate is below it.
    if (floorBitsPerSec > this.estimateBitsPerSec) {
      this.estimateBitsPerSec = this.maxCurBps = floorBitsPerSec
      this.maxPrevBps = 0
      this.bucketStartMs = nowMs
    }
    if (this.inStartup) return
    this.inStartup = true
    this.gain = STARTUP_GAIN
    this.fullBwBps = this.estimateBitsPerSec
    this.flatRounds = 0
    this.sampledThisRound = false
    this.roundStartMs = nowMs
  }

  /** Advance the gain cycle; call before planning. `minRttMs` sets the round length. */
  advance (nowMs: number, minRttMs: number): void {
    const roundMs = Math.max(MIN_ROUND_MS, Number.isFinite(minRttMs) ? minRttMs : 0)
    if (nowMs - this.roundStartMs < roundMs) return
    this.roundStartMs = nowMs
    if (this.inStartup) {
      if (!this.sampledThisRound) return // an idle round says nothing about the pipe
      this.sampledThisRound = false
      if (this.estimateBitsPerSec >= this.fullBwBps * 1.25) {
        this.fullBwBps = this.estimateBitsPerSec
        this.flatRounds = 0
      } else if (++this.flatRounds >= STARTUP_FLAT_ROUNDS) {
        this.inStartup = false
        this.cycleIndex = PROBE_GAINS.length - 1
      }
      if (this.inStartup) return
    }
    this.sampledThisRound = false
    this.cycleIndex = (this.cycleIndex + 1) % PROBE_GAINS.length
    this.gain = PROBE_GAINS[this.cycleIndex]!
  }

  /**
   * Turns the half-window buckets, counted in time during which the path delivered samples that
   * can lower the estimate (busy ones): a path the scheduler left idle for a while keeps what it
   * last proved until it has been measured busy again for a half window. Aged by the clock
   * instead, the first small burst after a quiet spell became the whole estimate (l2 fell from
   * 10 to 1.6 Mbit/s in the loss run, and then got too little traffic to prove it wrong).
   */
  private rotate (nowMs: number): void {
    if (nowMs - this.bucketStartMs < RATE_WINDOW_MS / 2) return
    this.maxPrevBps = this.maxCurBps
    this.maxCurBps = 0
    this.bucketStartMs = nowMs
  }
}
