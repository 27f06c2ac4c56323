/**
 * A model of the bytes waiting in front of a path's bottleneck: every send adds its bytes, and
 * the backlog drains at the planned rate. It is a token bucket seen from the other side: the
 * delay until the backlog drains is how long a new unit would queue, which is what the `auto`
 * scheduler compares across paths, and what a caller that paces waits for before sending.
 * A configured rate caps the drain rate, so a cap holds even when the link could do more.
 */
export class Pacer {
  backlogBytes = 0
  private updatedMs = 0
  /** Drain rate in use (set by the path from its estimate, gain and cap). */
  rateBitsPerSec = 1

  setRate (rateBitsPerSec: number, nowMs: number): void {
    this.drain(nowMs)
    this.rateBitsPerSec = Math.max(1, rateBitsPerSec)
  }

  onSend (bytes: number, nowMs: number): void {
    this.drain(nowMs)
    this.backlogBytes += bytes
  }

  /**
   * Re-anchor the model to a measurement: a packet the model thought would queue `predictedMs`
   * really queued `measuredMs` (one-way delay above its minimum). Half the error is applied, so
   * one noisy sample cannot swing it, while a steady drift (rate slightly off) is cancelled.
   */
  correct (measuredMs: number, predictedMs: number, nowMs: number): void {
    this.drain(nowMs)
    const errorBytes = ((measuredMs - predictedMs) * this.rateBitsPerSec) / 8000
    this.backlogBytes = Math.max(0, this.backlogBytes + errorBytes / 2)
  }

  /** How long `bytes` more would wait behind the current backlog (incl. their own serialisation). */
  queueDelayMs (bytes: number, nowMs: number): number {
    this.drain(nowMs)
    return ((this.backlogBytes + bytes) * 8000) / this.rateBitsPerSec
  }

  /** When a pacing caller may send the next `bytes` without building more than `burstBytes` of backlog. */
  sendTimeMs (bytes: number, burstBytes: number, nowMs: number): number {
    this.drain(nowMs)
    const excess = this.backlogBytes + bytes - burstBytes
    return excess <= 0 ? nowMs : nowMs + (excess * 8000) / this.rateBitsPerSec
  }

  private drain (nowMs: number): void {
    const elapsedMs = nowMs - this.updatedMs
    if (elapsedMs > 0) {
      this.backlogBytes = Math.max(0, this.backlogBytes - (elapsedMs * this.rateBitsPerSec) / 8000)
      this.updatedMs = nowMs
    }
  }
}
