/**
 * Logging interface injected into every long-running part; `cmd/` provides the implementation
 * (text on a terminal, JSON when asked). Messages start with their subject and carry no key material.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error'

export interface Logger {
  debug(message: string): void
  info(message: string): void
  warn(message: string): void
  error(message: string): void
}

export const silentLogger: Logger = { debug () {}, info () {}, warn () {}, error () {} }

/**
 * Lets one line per key through per interval and counts what it held back, so a flood of bad
 * packets from one source costs one log line, not thousands.
 */
export class LogLimiter {
  private readonly lastByKey = new Map<string, { atMs: number, suppressed: number }>()

  constructor (private readonly intervalMs = 10_000, private readonly maxKeys = 4096) {}

  /** Returns the number of lines suppressed since the last one let through, or -1 to stay quiet. */
  admit (key: string, nowMs: number): number {
    const last = this.lastByKey.get(key)
    if (last !== undefined && nowMs - last.atMs < this.intervalMs) {
      last.suppressed++
      return -1
    }
    const suppressed = last?.suppressed ?? 0
    this.lastByKey.delete(key)
    this.lastByKey.set(key, { atMs: nowMs, suppressed: 0 })
    if (this.lastByKey.size > this.maxKeys) this.lastByKey.delete(this.lastByKey.keys().next().value!)
    return suppressed
  }
}

/**
 * Turns a counter that only grows (a cap hit per packet) into at most one log line per interval:
 * the first increase is reported at once, later ones together once the interval has passed.
 * Pure: the caller passes `nowMs`.
 */
export class CounterLog {
  private reported = 0
  private lastAtMs = -Infinity

  constructor (private readonly intervalMs = 10_000) {}

  /** How much `total` grew since the last report, if a line is due now; 0 to stay quiet. */
  due (total: number, nowMs: number): number {
    if (total <= this.reported || nowMs - this.lastAtMs < this.intervalMs) return 0
    const grown = total - this.reported
    this.reported = total
    this.lastAtMs = nowMs
    return grown
  }
}
