/**
 * RSS over a soak: samples per process and incarnation (a process killed and started again is a
 * new incarnation), and growth after the warm-up judged as the median of the first fifth of the
 * samples after it against the median of the last fifth (at least 3 each).
 */
import { rssBytes } from './lib/processes.js'

export interface RssGrowth { warm: number, end: number, pct: number }

/** RSS samples of named processes; `track` again under the same name starts a new incarnation. */
export class RssLog {
  private readonly series = new Map<string, Array<Array<{ atS: number, bytes: number }>>>()
  private readonly pids = new Map<string, number>()

  track (name: string, pid: number): void {
    this.pids.set(name, pid)
    const list = this.series.get(name) ?? []
    list.push([])
    this.series.set(name, list)
  }

  sample (atS: number): void {
    for (const [name, pid] of this.pids) {
      const bytes = rssBytes(pid)
      if (bytes !== undefined) this.series.get(name)!.at(-1)!.push({ atS, bytes })
    }
  }

  names (): string[] { return [...this.series.keys()] }

  incarnations (name: string): number { return this.series.get(name)?.length ?? 0 }

  /** The longest-lived incarnation's samples (the one RSS growth is judged over). */
  longest (name: string): Array<{ atS: number, bytes: number }> {
    return (this.series.get(name) ?? [[]]).reduce((a, b) => (b.length > a.length ? b : a))
  }

  /** Growth after `warmupS` of the longest incarnation, or undefined when too few samples follow it. */
  growth (name: string, warmupS: number): RssGrowth | undefined {
    const samples = this.longest(name)
    const startS = samples[0]?.atS ?? 0
    const after = samples.filter((s) => s.atS - startS >= warmupS)
    if (after.length < 6) return undefined
    const n = Math.max(3, Math.floor(after.length / 5))
    const median = (xs: number[]): number => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const warm = median(after.slice(0, n).map((s) => s.bytes))
    const end = median(after.slice(-n).map((s) => s.bytes))
    return { warm, end, pct: (end / warm - 1) * 100 }
  }

  /** One line per process: growth, incarnations and a few samples over time. */
  describe (name: string, warmupS: number): string {
    const samples = this.longest(name)
    const every = Math.max(1, Math.floor(samples.length / 10))
    const over = samples.filter((_, i) => i % every === 0).map((s) => `${s.atS.toFixed(0)}s ${mib(s.bytes)}`).join(', ')
    const n = this.incarnations(name)
    const span = samples.length > 0 ? ` (longest of ${n} incarnations, ${samples[0]!.atS.toFixed(0)}-${samples.at(-1)!.atS.toFixed(0)} s)` : ''
    return `${name} RSS${n > 1 ? span : ''}: ${fmtGrowth(this.growth(name, warmupS))}; MiB over time: ${over}`
  }
}

export function mib (bytes: number | undefined): string { return bytes === undefined ? '-' : (bytes / 2 ** 20).toFixed(1) }

export function fmtGrowth (g: RssGrowth | undefined): string {
  return g === undefined ? 'too short to judge (fewer than 6 samples after the warm-up)' : `${mib(g.warm)} MiB after warm-up -> ${mib(g.end)} MiB at the end (${g.pct >= 0 ? '+' : ''}${g.pct.toFixed(1)} %)`
}
