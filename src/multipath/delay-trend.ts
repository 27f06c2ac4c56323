import { MIN_FILTER_WINDOW_MS } from './constants.js'
import { WindowedMin } from './windowed-min.js'

/**
 * One-way delay trend from (sender timestamp, receiver timestamp) pairs. The clocks are not
 * synchronised, so a single sample means nothing; the minimum over a window is the empty-queue
 * baseline and the excess over it is the queueing delay now. Samples of different paths
 * between the same two hosts share both clocks, so their baselines can be compared to get the
 * delay spread between paths.
 */
export class OneWayDelayTrend {
  /** Latest receiver-minus-sender time (includes an unknown clock offset). */
  latestRelMs = NaN
  minRelMs = Infinity
  private minFilter = new WindowedMin(MIN_FILTER_WINDOW_MS)
  /** Smoothed queueing delay above the baseline. */
  queueDelayMs = 0
  /** Smoothed mean deviation of consecutive samples: the path's jitter. */
  jitterMs = 0

  addSample (senderTimeMs: number, receiverTimeMs: number, nowMs: number): void {
    const rel = receiverTimeMs - senderTimeMs
    if (!Number.isFinite(rel)) return
    if (!Number.isNaN(this.latestRelMs)) this.jitterMs += (Math.abs(rel - this.latestRelMs) - this.jitterMs) / 16
    this.latestRelMs = rel
    this.minFilter.add(rel, nowMs)
    this.minRelMs = this.minFilter.value
    this.queueDelayMs += (rel - this.minRelMs - this.queueDelayMs) / 4
  }

  /** Forgets the baseline: the receiver's clock may be another one from now on (a restarted peer). */
  restart (): void {
    this.latestRelMs = NaN
    this.minRelMs = Infinity
    this.minFilter = new WindowedMin(MIN_FILTER_WINDOW_MS)
    this.queueDelayMs = 0
  }

  /** Queueing delay shown by the latest sample alone. */
  latestQueueDelayMs (): number {
    return Number.isNaN(this.latestRelMs) ? 0 : this.latestRelMs - this.minRelMs
  }
}
