/**
 * Random loss on each path as this end receives it (path sequences that never arrived), so the
 * reorder hold can wait for repairs of holes on a lossy path (repairWaitOf). Skipped, such a hole
 * is a loss to the inner TCP: a loss-based sender (CUBIC, Reno) halves its window for each, and a
 * 5 % lossy slow path then dragged the bond far below the fast path alone (10.9 against ~18
 * Mbit/s in the lab with CUBIC). Pure: counters passed in.
 */
import { LossEstimator } from '../multipath/index.js'

/**
 * Our choice: a path counts as lossy from this loss ratio on, and clean again under the second
 * (hysteresis). Half of FEC's thresholds: about one loss in the first 32-packet span is enough,
 * since a lone loss is always repaired and so worth waiting for (losses to a full queue are
 * abandoned: their holes are skipped at once whatever the hold). At FEC's 1 %, a slow path that
 * carried only a flow's spill still had its first holes skipped (CUBIC: 11.2 Mbit/s in one run of three).
 */
export const LOSSY_ON_RATIO = 0.005
export const LOSSY_OFF_RATIO = 0.0025

/**
 * Our choice: loss is counted over spans of at least this many packets (fewer: no verdict yet).
 * 200 left a slow path that carries only a flow's spill (130 packets in its first 3 s with CUBIC
 * in the lab) without a verdict, its holes held for the delay spread alone and skipped.
 */
const MIN_SPAN_PACKETS = 32

interface PathLoss {
  /** Highest sequence and packets received when the current span began. */
  seq: number
  received: number
  readonly loss: LossEstimator
  lossy: boolean
  /** Whether a full span was counted (the estimator's verdict); before it, any gap makes the path lossy. */
  judged: boolean
}

export class IncomingLoss {
  private readonly paths: (PathLoss | undefined)[] = []

  /**
   * Feeds path `id`'s receiver counters: `highestSeq` (the highest path sequence seen) and
   * `received` (packets that arrived). Call it now and then (each tick is fine).
   */
  update (id: number, highestSeq: number, received: number): void {
    const path = this.paths[id]
    if (path === undefined || highestSeq < path.seq) {
      // First seen, or a new sequence space (a new session): start over.
      this.paths[id] = { seq: highestSeq, received, loss: new LossEstimator(), lossy: false, judged: false }
      return
    }
    const expected = highestSeq - path.seq
    if (expected < MIN_SPAN_PACKETS) {
      // No verdict yet: a gap already makes the path lossy until its first span is counted. A
      // slow path carrying a flow's spill takes up to a second for its first 32 packets, and a
      // hole skipped then is a loss to the inner TCP in slow start (CUBIC left it early: the slow mode).
      if (!path.judged && received - path.received < expected) path.lossy = true
      return
    }
    path.loss.addSpan(expected, received - path.received)
    path.seq = highestSeq
    path.received = received
    path.judged = true
    path.lossy = path.loss.lossRatio >= (path.lossy ? LOSSY_OFF_RATIO : LOSSY_ON_RATIO)
  }

  isLossy (id: number): boolean { return this.paths[id]?.lossy === true }
  lossRatio (id: number): number { return this.paths[id]?.loss.lossRatio ?? 0 }
}
