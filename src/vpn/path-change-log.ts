/**
 * Decides which path down/up transitions get a log line. A path that settles after a fault logs
 * each change at once; a path that flaps (a link at the edge of its loss threshold, a restore
 * that answers one probe and then loses the next) would otherwise print a pair of lines per flap:
 * after `burstLines` lines within `windowMs` its further changes are only counted, and one
 * summary line per window says how often it went down and where it stands now.
 * Pure: the caller passes `nowMs` and logs what it is told to.
 */

export type PathLine =
  | { kind: 'down' }
  | { kind: 'up', state: string }
  | { kind: 'summary', downs: number, ups: number, state: string }

interface PathHistory {
  /** Whether the path was down when last seen. */
  down: boolean
  /** When each of the recent lines was logged (at most burstLines kept). */
  lineTimes: number[]
  downsQuiet: number
  upsQuiet: number
  /** When the first quiet change happened (the summary is due a window after it), or -1. */
  quietSinceMs: number
}

export class PathChangeLog {
  private readonly paths = new Map<number, PathHistory>()

  constructor (private readonly windowMs = 30_000, private readonly burstLines = 4) {}

  /**
   * The path's state now: returns the line to log (at most one), or undefined. Only changes
   * between down and not down count; `probing` is neither (a path being re-checked).
   */
  observe (pathId: number, state: string, nowMs: number): PathLine | undefined {
    let h = this.paths.get(pathId)
    if (h === undefined) {
      h = { down: false, lineTimes: [], downsQuiet: 0, upsQuiet: 0, quietSinceMs: -1 }
      this.paths.set(pathId, h)
    }
    let line: PathLine | undefined
    const goesDown = !h.down && state === 'down'
    const comesUp = h.down && state !== 'down' && state !== 'probing'
    if (goesDown || comesUp) {
      h.down = goesDown
      while (h.lineTimes.length > 0 && nowMs - h.lineTimes[0]! >= this.windowMs) h.lineTimes.shift()
      if (h.quietSinceMs < 0 && h.lineTimes.length < this.burstLines) {
        h.lineTimes.push(nowMs)
        line = goesDown ? { kind: 'down' } : { kind: 'up', state }
      } else {
        if (h.quietSinceMs < 0) h.quietSinceMs = nowMs
        if (goesDown) h.downsQuiet++
        else h.upsQuiet++
      }
    }
    if (line === undefined && h.quietSinceMs >= 0 && nowMs - h.quietSinceMs >= this.windowMs) {
      line = { kind: 'summary', downs: h.downsQuiet, ups: h.upsQuiet, state }
      h.downsQuiet = 0
      h.upsQuiet = 0
      h.quietSinceMs = -1
      h.lineTimes = [nowMs]
    }
    return line
  }

  /** A path removed for good: forget it. */
  forget (pathId: number): void { this.paths.delete(pathId) }
}
