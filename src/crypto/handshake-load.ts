/**
 * Tells a server when it is under handshake load: more handshake initiations per second than it
 * wants to answer with real work. Under load, only sources that proved their address (a cookie)
 * get a handshake. The rate is a sliding one-second window (the previous window's count, weighted
 * by how much of it still overlaps, plus the current one's); the state ends only after the rate
 * has stayed below the threshold for `holdMs`, so an attacker cannot toggle it every packet.
 * Time is passed in.
 */

export interface HandshakeLoadOptions {
  /** Initiations per second above which the server is under load (our choice: 100). */
  thresholdPerSecond?: number
  /** Stay under load this long after the rate last exceeded the threshold (from WireGuard: 1 s). */
  holdMs?: number
}

export const DEFAULT_LOAD_THRESHOLD_PER_SECOND = 100
const WINDOW_MS = 1000

export class HandshakeLoad {
  readonly thresholdPerSecond: number
  private readonly holdMs: number
  private windowStartMs = -Infinity
  private countInWindow = 0
  private countInPrevious = 0
  private lastOverMs = -Infinity

  constructor (options: HandshakeLoadOptions = {}) {
    this.thresholdPerSecond = options.thresholdPerSecond ?? DEFAULT_LOAD_THRESHOLD_PER_SECOND
    this.holdMs = options.holdMs ?? 1000
    if (!(this.thresholdPerSecond >= 0)) throw new RangeError('the handshake load threshold must be 0 or more')
  }

  /** Counts one initiation at `nowMs`; returns whether the server is now under load. */
  note (nowMs: number): boolean {
    this.advance(nowMs)
    this.countInWindow++
    if (this.ratePerSecond(nowMs) > this.thresholdPerSecond) this.lastOverMs = nowMs
    return this.isUnderLoad(nowMs)
  }

  isUnderLoad (nowMs: number): boolean {
    return nowMs - this.lastOverMs < this.holdMs
  }

  /** Initiations in the last second (estimated across the window boundary). */
  ratePerSecond (nowMs: number): number {
    this.advance(nowMs)
    const overlap = 1 - (nowMs - this.windowStartMs) / WINDOW_MS
    return this.countInPrevious * Math.max(0, overlap) + this.countInWindow
  }

  private advance (nowMs: number): void {
    const elapsed = nowMs - this.windowStartMs
    if (elapsed < WINDOW_MS) return
    this.countInPrevious = elapsed < 2 * WINDOW_MS ? this.countInWindow : 0
    this.countInWindow = 0
    this.windowStartMs = elapsed < 2 * WINDOW_MS ? this.windowStartMs + WINDOW_MS : nowMs
  }
}
