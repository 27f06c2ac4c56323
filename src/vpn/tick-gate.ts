/**
 * Runs a ttt end's housekeeping tick (every tickMs, from an interval timer), but a tick that
 * fires late, because the process was off-CPU or busy for a while, waits for one more read of
 * the sockets first (setImmediate runs after the event loop's next I/O poll). The replies that
 * arrived meanwhile are then counted before the tick judges a path by its silence. Without this,
 * a client stopped for 150 ms (CPU starvation, reproduced with SIGSTOP) declared its only path
 * down on waking, with the server's replies still unread in its socket, and refused everything
 * the TUN handed it until they were read a few ms later.
 */
import type { Clock } from '../clock.js'

/** Our choice: a tick this much later than planned (beyond the timer's usual jitter) is late. */
export const LATE_TICK_SLACK_MS = 10

/** Whether a tick at `nowMs`, the last one having run at `lastMs`, is late (pure). */
export function isLateTick (lastMs: number, nowMs: number, tickMs: number): boolean {
  return nowMs - lastMs > tickMs + LATE_TICK_SLACK_MS
}

export class TickGate {
  private lastMs = -Infinity
  private deferred: NodeJS.Immediate | undefined
  /** Late ticks deferred past an I/O poll (for tests and the closing line). */
  lateTicks = 0

  constructor (private readonly tickMs: number, private readonly clock: Clock, private readonly tick: () => void) {}

  /** The interval timer fired: tick now, or after the next I/O poll when late. */
  fire (): void {
    if (this.deferred !== undefined) return
    if (isLateTick(this.lastMs, this.clock.now(), this.tickMs) && Number.isFinite(this.lastMs)) {
      this.lateTicks++
      this.deferred = setImmediate(() => { this.deferred = undefined; this.run() })
      return
    }
    this.run()
  }

  /** Ticks now (the first tick at start, or a caller that just read everything). */
  run (): void {
    this.lastMs = this.clock.now()
    this.tick()
  }

  /** Drops a deferred tick (at close). */
  cancel (): void {
    if (this.deferred !== undefined) clearImmediate(this.deferred)
    this.deferred = undefined
  }
}
