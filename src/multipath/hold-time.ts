import { INITIAL_HOLD_MS, MAX_HOLD_MS, MIN_HOLD_MS } from './constants.js'

/**
 * Our choice: the hold also covers the longest fill seen over this window. Holes that need a
 * repair round trip are a few in hundreds (most fill within the delay skew), so the mean and
 * deviation of fills stayed under them and every such hole was skipped: a loss to the inner
 * flow (5 % loss on l2: each of ~20 skips cut the inner window by 30 %). 2 s keeps a repair's
 * fill long enough to cover the next one on a lossy path, and forgets it soon on a clean one.
 */
export const FILL_MAX_WINDOW_MS = 10000

/**
 * How long a reorder bucket waits for a hole. Two measurements feed it: the delay spread between
 * paths plus their jitter (from one-way delays), and how long holes actually took to fill
 * (reordering and repairs alike; a packet that arrived after its hole was skipped counts as a
 * fill that took longer than the hold). The hold covers the larger, and is capped so a dead
 * path cannot stall a flow for longer than failover takes.
 */
export class HoldTimeEstimator {
  holdMs = INITIAL_HOLD_MS
  private spreadMs = 0
  private repairWaitMs = 0
  private jitterMs = 0
  private fillMeanMs = 0
  private fillDevMs = 0
  private fills = 0
  // Windowed maximum of fills, in two half-window buckets.
  private fillMaxCurMs = 0
  private fillMaxPrevMs = 0
  private fillMaxStartMs = -Infinity

  constructor (readonly maxHoldMs = MAX_HOLD_MS, readonly minHoldMs = MIN_HOLD_MS) {
    this.holdMs = Math.min(maxHoldMs, Math.max(minHoldMs, INITIAL_HOLD_MS))
  }

  /** Spread between the slowest and fastest path's one-way delay in use, and their jitter. */
  setSpread (spreadMs: number, jitterMs: number): void {
    this.spreadMs = Math.max(0, spreadMs)
    this.jitterMs = Math.max(0, jitterMs)
    this.recompute()
  }

  /**
   * How long a hole needs when its packet must be repaired (repairWaitOf; 0: no path is lossy).
   * A hole on a lossy path is then waited for until the repair can arrive: skipped, it is a loss
   * to the inner flow (one window cut each), where the wait costs one stall.
   */
  setRepairWait (waitMs: number): void {
    this.repairWaitMs = Math.max(0, waitMs)
    this.recompute()
  }

  /** A hole filled after waiting `waitMs` (at `nowMs`: without it, the windowed maximum is not kept). */
  addFillSample (waitMs: number, nowMs?: number): void {
    if (nowMs !== undefined) this.addToMax(waitMs, nowMs)
    if (this.fills === 0) {
      this.fillMeanMs = waitMs
      this.fillDevMs = waitMs / 2
    } else {
      this.fillDevMs += (Math.abs(waitMs - this.fillMeanMs) - this.fillDevMs) / 8
      this.fillMeanMs += (waitMs - this.fillMeanMs) / 16
    }
    this.fills++
    this.recompute()
  }

  /** A packet arrived `lateByMs` after its hole was skipped: the hole needed hold + lateBy. */
  addLateSample (lateByMs: number, nowMs?: number): void {
    this.addFillSample(this.holdMs + lateByMs, nowMs)
  }

  /** The longest fill of the last FILL_MAX_WINDOW_MS (0 once the window has passed without one). */
  recentMaxFillMs (nowMs: number): number {
    const age = nowMs - this.fillMaxStartMs
    if (age >= FILL_MAX_WINDOW_MS) return 0
    return age >= FILL_MAX_WINDOW_MS / 2 ? this.fillMaxCurMs : Math.max(this.fillMaxCurMs, this.fillMaxPrevMs)
  }

  /** Re-evaluates the hold as time passes (the windowed maximum ages out); call it with the spread. */
  advance (nowMs: number): void {
    this.nowMs = nowMs
    this.recompute()
  }

  private nowMs = -Infinity

  private addToMax (waitMs: number, nowMs: number): void {
    this.nowMs = Math.max(this.nowMs, nowMs)
    if (nowMs - this.fillMaxStartMs >= FILL_MAX_WINDOW_MS / 2) {
      this.fillMaxPrevMs = nowMs - this.fillMaxStartMs < FILL_MAX_WINDOW_MS ? this.fillMaxCurMs : 0
      this.fillMaxCurMs = 0
      this.fillMaxStartMs = nowMs
    }
    if (waitMs > this.fillMaxCurMs) this.fillMaxCurMs = waitMs
  }

  private recompute (): void {
    if (this.fills === 0 && this.spreadMs === 0 && this.repairWaitMs === 0) return // nothing measured yet: keep the initial hold
    const bySpread = this.spreadMs + 4 * this.jitterMs
    // The longest recent fill counts only while a path is lossy: elsewhere long fills are a
    // startup's or a dead path's, and holding every hole that long would stall for nothing.
    const recentMaxMs = this.repairWaitMs > 0 ? this.recentMaxFillMs(this.nowMs) : 0
    const byFills = this.fills > 0 ? Math.max(this.fillMeanMs + 4 * this.fillDevMs, recentMaxMs) : 0
    this.holdMs = Math.min(this.maxHoldMs, Math.max(this.minHoldMs, Math.max(bySpread, byFills, this.repairWaitMs) + MIN_HOLD_MS))
  }
}
