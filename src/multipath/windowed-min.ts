/**
 * Minimum of samples over a sliding window of `windowMs`, kept as two half-window buckets: the
 * value covers at least the last half window, and no sample older than one and a half windows. Unlike "reset to the
 * current sample when the window expires", it never jumps to a sample taken behind a queue just
 * because the old minimum aged out (which made a path look several ms slower than it is).
 */
export class WindowedMin {
  private curMin = Infinity
  private prevMin = Infinity
  private curStartMs = -Infinity

  constructor (readonly windowMs: number) {}

  get value (): number { return Math.min(this.curMin, this.prevMin) }

  add (sample: number, nowMs: number): void {
    if (nowMs - this.curStartMs >= this.windowMs / 2) {
      this.prevMin = nowMs - this.curStartMs < this.windowMs ? this.curMin : Infinity
      this.curMin = Infinity
      this.curStartMs = nowMs
    }
    if (sample < this.curMin) this.curMin = sample
  }
}
