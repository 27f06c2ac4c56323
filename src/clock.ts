/** Time source injected into every timing-sensitive state machine, so tests can use a fake one. */
export interface Clock {
  /** Monotonic milliseconds (fractional), unrelated to the wall clock. */
  now(): number
}

export const monotonicClock: Clock = { now: () => performance.now() }

/** A clock tests move by hand. */
export class FakeClock implements Clock {
  constructor (public ms = 0) {}
  now (): number { return this.ms }
  advance (ms: number): void { this.ms += ms }
}
