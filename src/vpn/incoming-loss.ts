/**
 * Random loss on each path as this end receives it (path sequences that never arrived), so the
 * reorder hold can wait for repairs of holes on a lossy path (repairWaitOf). Skipped, such a hole
 * is a loss to the inner TCP: a loss-based sender (CUBIC, Reno) halves its window for each, and a
 * 5 % lossy slow path then dragged the bond far below the fast path alone (10.9 against ~18
 * Mbit/s in the lab with CUBIC). Pure: counters and time passed in.
 */

/** Our choice: a path counts as lossy above this share of its packets lost (as the sim's FEC). */
export const LOSSY_RATIO = 0.01
/** Our choice: below this it is clean again (hysteresis, so one burst does not flip it back and forth). */
export const CLEAN_RATIO = 0.005
/** Our choice: loss is measured over windows of at least this many packets (fewer: no verdict). */
const MIN_WINDOW_PACKETS = 200
/** Smoothing of the windows' loss ratios (EWMA weight of a new window). */
const WEIGHT = 0.25

export class IncomingLoss {
  private lastSeq: number[] = []
  private lastReceived: number[] = []
  private ratio: number[] = []
  private lossy: boolean[] = []

  /**
   * Feeds path `id`'s receiver counters: `highestSeq` (the highest path sequence seen) and
   * `received` (packets that arrived). Call it now and then (each tick is fine).
   */
  update (id: number, highestSeq: number, received: number): void {
    if (this.lastSeq[id] === undefined || highestSeq < this.lastSeq[id]!) {
      this.lastSeq[id] = highestSeq
      this.lastReceived[id] = received
      this.ratio[id] = 0
      this.lossy[id] = false
      return
    }
    const sent = highestSeq - this.lastSeq[id]!
    if (sent < MIN_WINDOW_PACKETS) return
    const arrived = received - this.lastReceived[id]!
    const windowRatio = Math.min(1, Math.max(0, 1 - arrived / sent))
    this.ratio[id] = this.ratio[id]! + WEIGHT * (windowRatio - this.ratio[id]!)
    this.lastSeq[id] = highestSeq
    this.lastReceived[id] = received
    if (this.ratio[id]! > LOSSY_RATIO) this.lossy[id] = true
    else if (this.ratio[id]! < CLEAN_RATIO) this.lossy[id] = false
  }

  isLossy (id: number): boolean { return this.lossy[id] === true }
  lossRatio (id: number): number { return this.ratio[id] ?? 0 }

  /** Forgets path `id` (a new session, or the path left). */
  forget (id: number): void {
    this.lastSeq[id] = undefined as unknown as number
    this.lossy[id] = false
    this.ratio[id] = 0
  }
}
