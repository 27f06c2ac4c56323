/**
 * A model of the bytes waiting in front of a path's bottleneck, kept as a schedule: `freeAtMs` is
 * when everything handed over so far has drained at the planned rate. Every send extends it by
 * its serialisation time at the rate in force at that moment, so a later rate change re-prices
 * only later sends, exactly like a caller's pace queue that fixed each packet's release time when
 * it queued it: the model's wait and the real one agree (when the model re-priced old backlog
 * instead, every upward gain made it promise earlier releases than the pace queue could give,
 * and a paced path looked overdue, then degraded, under load). The delay until the schedule is
 * free is how long a new unit would queue, which is what the `auto` scheduler compares across
 * paths, and what a caller that paces waits for before sending. A configured rate caps the drain
 * rate, so a cap holds even when the link could do more.
 */
export class Pacer {
  private freeAtMs = 0
  private lastNowMs = 0
  /** Drain rate in use (set by the path from its estimate, gain and cap). */
  rateBitsPerSec = 1

  /** Bytes not yet drained at `nowMs` (at the current rate). */
  backlogAt (nowMs: number): number {
    return (Math.max(0, this.freeAtMs - nowMs) * this.rateBitsPerSec) / 8000
  }

  /** Bytes not yet drained as of the latest call that passed a time. */
  get backlogBytes (): number { return this.backlogAt(this.lastNowMs) }

  setRate (rateBitsPerSec: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.rateBitsPerSec = Math.max(1, rateBitsPerSec)
  }

  onSend (bytes: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.freeAtMs = Math.max(this.freeAtMs, nowMs) + (bytes * 8000) / this.rateBitsPerSec
  }

  /**
   * Re-anchor the model to a measurement: a packet the model thought would queue `predictedMs`
   * really queued `measuredMs` (one-way delay above its minimum). Half the error is applied, so
   * one noisy sample cannot swing it, while a steady drift (rate slightly off) is cancelled.
   */
  correct (measuredMs: number, predictedMs: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.freeAtMs = Math.max(nowMs, Math.max(this.freeAtMs, nowMs) + (measuredMs - predictedMs) / 2)
  }

  /** Forget the backlog (the path went down: what it held is written off or sent elsewhere). */
  reset (nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.freeAtMs = nowMs
  }

  /** How long `bytes` more would wait behind the current backlog (incl. their own serialisation). */
  queueDelayMs (bytes: number, nowMs: number): number {
    return Math.max(0, this.freeAtMs - nowMs) + (bytes * 8000) / this.rateBitsPerSec
  }

  /** When a pacing caller may send the next `bytes` without building more than `burstBytes` of backlog. */
  sendTimeMs (bytes: number, burstBytes: number, nowMs: number): number {
    return Math.max(nowMs, this.freeAtMs - ((burstBytes - bytes) * 8000) / this.rateBitsPerSec)
  }
}
