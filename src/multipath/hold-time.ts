import { INITIAL_HOLD_MS, MAX_HOLD_MS, MIN_HOLD_MS } from './constants.js'

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
  private jitterMs = 0
  private fillMeanMs = 0
  private fillDevMs = 0
  private fills = 0

  constructor (readonly maxHoldMs = MAX_HOLD_MS, readonly minHoldMs = MIN_HOLD_MS) {
    this.holdMs = Math.min(maxHoldMs, Math.max(minHoldMs, INITIAL_HOLD_MS))
  }

  /** Spread between the slowest and fastest path's one-way delay in use, and their jitter. */
  setSpread (spreadMs: number, jitterMs: number): void {
    this.spreadMs = Math.max(0, spreadMs)
    this.jitterMs = Math.max(0, jitterMs)
    this.recompute()
  }

  /** A hole filled after waiting `waitMs`. */
  addFillSample (waitMs: number): void {
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
  addLateSample (lateByMs: number): void {
    this.addFillSample(this.holdMs + lateByMs)
  }

  private recompute (): void {
    if (this.fills === 0 && this.spreadMs === 0) return // nothing measured yet: keep the initial hold
    const bySpread = this.spreadMs + 4 * this.jitterMs
    const byFills = this.fills > 0 ? this.fillMeanMs + 4 * this.fillDevMs : 0
    this.holdMs = Math.min(this.maxHoldMs, Math.max(this.minHoldMs, Math.max(bySpread, byFills) + MIN_HOLD_MS))
  }
}
