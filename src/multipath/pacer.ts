/**
 * A model of the bytes waiting in front of a path's bottleneck, kept as two schedules.
 *
 * `freeAtMs` is the pace schedule: when everything handed over so far has drained at the planned
 * rate. Every send extends it by its serialisation time at the rate in force at that moment, so a
 * later rate change re-prices only later sends, exactly like a caller's pace queue that fixed
 * each packet's release time when it queued it (when the model re-priced old backlog instead,
 * every upward gain made it promise earlier releases than the pace queue could give, and a paced
 * path looked overdue, then degraded, under load). A pacing caller releases by it (`sendTimeMs`).
 *
 * `departAtMs` is when the bottleneck will have sent the last unit handed over: what a new unit
 * queues behind, which the `auto` scheduler compares across paths. Without pacing the two are the
 * same schedule. With pacing they differ: a unit is released up to `burstBytes - bytes` ahead of
 * the pace schedule, and a link even slightly faster than our estimate of it (the usual case) has
 * sent the unit before, so the unit leaves one packet time earlier than the pace schedule says.
 * Counting from the pace schedule, the model was late by one packet time on every path, 0.6 ms
 * on a 20 Mbit/s link and 1.2 ms on a 10 Mbit/s one, and that difference reordered packets split
 * between two paths of equal delay. Measurements re-anchor the departure schedule (its releases
 * follow the pace schedule, so the correction persists), never the pace schedule, which is the
 * caller's real queue. A configured rate caps the drain rate, so a cap holds even when the link
 * could do more.
 */
export class Pacer {
  private freeAtMs = 0
  private departAtMs = 0
  private lastNowMs = 0
  /** Drain rate in use (set by the path from its estimate, gain and cap). */
  rateBitsPerSec = 1
  private linkRateBitsPerSec = 1
  /**
   * Sum of every shift `correct` applied. A measurement comes back a round trip after its unit was
   * handed over, and the shifts applied in between already answered part of its error: the caller
   * takes them out (the difference of this sum between then and now), or the same error is
   * corrected again with every sample of that round trip and the model overshoots.
   */
  correctedMs = 0
  /** The caller's pacing burst in bytes while it paces (`sendTimeMs(bytes, burstBytes, …)`), 0 while it does not. */
  burstBytes = 0

  /** Bytes not yet drained at `nowMs` (at the current rate). */
  backlogAt (nowMs: number): number {
    return (Math.max(0, this.freeAtMs - nowMs) * this.rateBitsPerSec) / 8000
  }

  /** Bytes not yet drained as of the latest call that passed a time. */
  get backlogBytes (): number { return this.backlogAt(this.lastNowMs) }

  /**
   * `rateBitsPerSec`: the pace (planned) rate. `linkRateBitsPerSec`: what the bottleneck itself
   * drains at, as far as we know (the estimate without the probe gain); a paced unit leaves the
   * bottleneck at that rate (at the drain phase's 0.9 the pace schedule is slower than the link,
   * and a departure schedule at the pace rate ran late by 0.13 ms a packet on a lightly used
   * path). Without pacing the two are one schedule, at the planned rate.
   */
  setRate (rateBitsPerSec: number, nowMs: number, linkRateBitsPerSec = rateBitsPerSec): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.rateBitsPerSec = Math.max(1, rateBitsPerSec)
    this.linkRateBitsPerSec = Math.max(1, linkRateBitsPerSec)
  }

  onSend (bytes: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.departAtMs = this.departureMs(bytes, nowMs)
    this.freeAtMs = Math.max(this.freeAtMs, nowMs) + this.serialisationMs(bytes)
  }

  /**
   * `bytes` went to the link at once, outside the pace queue (a small control packet): whatever
   * is queued behind it, in the pace queue or at the bottleneck, leaves that much later. On an
   * idle path it is gone before anything follows, so nothing moves (it must not make the next
   * send look busy, or an app-limited path's delivery samples count as a full pipe's).
   */
  onUnpacedSend (bytes: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    if (this.freeAtMs > nowMs) this.freeAtMs += this.serialisationMs(bytes)
    if (this.departAtMs > nowMs) this.departAtMs += this.burstBytes > 0 ? (bytes * 8000) / this.linkRateBitsPerSec : this.serialisationMs(bytes)
  }

  /**
   * Re-anchor the model to a measurement: a unit the model thought would leave the bottleneck
   * `predictedMs` after it was handed over really took `measuredMs`. Half the error is applied,
   * so one noisy sample cannot swing it, while a steady drift (rate slightly off) is cancelled.
   * Only the departure schedule moves; without pacing it is the pace schedule too.
   */
  correct (measuredMs: number, predictedMs: number, nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    const fromMs = Math.max(this.departAtMs, nowMs)
    this.departAtMs = Math.max(nowMs, fromMs + (measuredMs - predictedMs) / 2)
    this.correctedMs += this.departAtMs - fromMs
    if (this.burstBytes === 0) this.freeAtMs = this.departAtMs
  }

  /**
   * A paced caller is to hold the next unit of `bytes` so that it leaves the bottleneck no
   * earlier than `departMs`: the pace schedule moves so its release comes that late, and the
   * departure schedule with it. The pause is idle time on the path. Without pacing it does nothing.
   */
  holdNextUntil (bytes: number, departMs: number, nowMs: number): void {
    if (this.burstBytes <= 0) return
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    const releaseMs = departMs - (bytes * 8000) / this.linkRateBitsPerSec
    this.freeAtMs = Math.max(this.freeAtMs, releaseMs + this.serialisationMs(Math.max(bytes, this.burstBytes) - bytes))
    this.departAtMs = Math.max(this.departAtMs, releaseMs)
  }

  /** Forget the backlog (the path went down: what it held is written off or sent elsewhere). */
  reset (nowMs: number): void {
    if (nowMs > this.lastNowMs) this.lastNowMs = nowMs
    this.freeAtMs = nowMs
    this.departAtMs = nowMs
  }

  /** How long `bytes` handed over now would take to leave the bottleneck (the queue ahead of them and their own serialisation). */
  queueDelayMs (bytes: number, nowMs: number): number {
    return this.departureMs(bytes, nowMs) - nowMs
  }

  /** When a pacing caller may send the next `bytes` without building more than `burstBytes` of backlog. */
  sendTimeMs (bytes: number, burstBytes: number, nowMs: number): number {
    return Math.max(nowMs, this.freeAtMs - ((burstBytes - bytes) * 8000) / this.rateBitsPerSec)
  }

  private serialisationMs (bytes: number): number {
    return (bytes * 8000) / this.rateBitsPerSec
  }

  /** When `bytes` handed over now leave the bottleneck: released (paced or at once), then behind the units before them. */
  private departureMs (bytes: number, nowMs: number): number {
    if (this.burstBytes <= 0) return Math.max(this.departAtMs, nowMs) + this.serialisationMs(bytes)
    const releaseMs = this.sendTimeMs(bytes, Math.max(bytes, this.burstBytes), nowMs)
    return Math.max(releaseMs, this.departAtMs, nowMs) + (bytes * 8000) / this.linkRateBitsPerSec
  }
}
