/**
 * Shared by the lab benchmarks (bench/bonding.ts, bench/pipe-multipath.ts): sampling the lab's
 * per-link counters while a flow runs, rates and recovery times from those samples, reading a
 * tcp-flow sink's report (bench/lib/tcp-flow.ts) into goodput, stalls and a plot series, and
 * replacing one section of BENCHMARKS.md.
 */
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import type { Lab } from '../../test/lab/lab.js'
import { sleep, type Series } from './vpn.js'

export const tcpFlowPath = fileURLToPath(new URL('./tcp-flow.js', import.meta.url))
export const benchmarksFile = fileURLToPath(new URL('../../../BENCHMARKS.md', import.meta.url))
export const outDir = fileURLToPath(new URL('../../../bench/out/', import.meta.url))

/** One reading of every link's client->server byte counter, `tMs` after the run's start. */
export interface LinkSample { tMs: number, up: number[] }

export interface LinkSampler {
  /** The samples so far (the array grows while the sampler runs). */
  samples: () => LinkSample[]
  stop: () => Promise<LinkSample[]>
}

/** Reads the client->server byte counters of `links` every `intervalMs` until stopped. */
export function sampleLinks (lab: Lab, t0Ns: bigint, links: readonly number[], intervalMs = 50): LinkSampler {
  const samples: LinkSample[] = []
  let running = true
  const loop = (async () => {
    while (running) {
      const up: number[] = []
      for (const l of links) up.push((await lab.stats(l)).up.txBytes)
      samples.push({ tMs: Number(lab.nowNs() - t0Ns) / 1e6, up })
      await sleep(intervalMs)
    }
  })()
  return { stop: async () => { running = false; await loop; return samples }, samples: () => samples }
}

/** Each link's client->server rate in Mbit/s between consecutive samples. */
export function linkSeries (samples: LinkSample[], names: readonly string[]): Series[] {
  return names.map((name, l) => ({
    name,
    points: samples.slice(1).map((s, i) => [s.tMs / 1000, (s.up[l]! - samples[i]!.up[l]!) * 8 / ((s.tMs - samples[i]!.tMs) / 1000) / 1e6] as [number, number]),
  }))
}

/** Link `l`'s average rate in Mbit/s over [fromMs, toMs]; NaN with fewer than two samples inside. */
export function linkRateMbit (samples: LinkSample[], l: number, fromMs: number, toMs: number): number {
  const inside = samples.filter((x) => x.tMs >= fromMs && x.tMs <= toMs)
  if (inside.length < 2) return NaN
  const a = inside[0]!; const b = inside[inside.length - 1]!
  return (b.up[l]! - a.up[l]!) * 8 / ((b.tMs - a.tMs) / 1000) / 1e6
}

/** Link `l`'s rate in Mbit/s over the last `windowMs` of the samples so far (NaN when too few). */
export function recentRateMbit (samples: LinkSample[], l: number, windowMs: number): number {
  const last = samples[samples.length - 1]
  if (last === undefined) return NaN
  return linkRateMbit(samples, l, last.tMs - windowMs, last.tMs)
}

/**
 * Milliseconds from `fromMs` to the first sample in which link `l` carried at least `minBytes`
 * (default: ten full packets' worth, so probes and keepalives do not count); NaN if never.
 */
export function carriesDataAfterMs (samples: LinkSample[], l: number, fromMs: number, minBytes = 10 * 1400): number {
  for (let i = 1; i < samples.length; i++) {
    const s = samples[i]!
    if (s.tMs < fromMs) continue
    if (s.up[l]! - samples[i - 1]!.up[l]! >= minBytes) return s.tMs - fromMs
  }
  return NaN
}

/** What a tcp-flow sink prints when its connection ends. */
export interface FlowReport { bytes: number, firstNs: string, lastNs: string, gaps: Array<[string, number]>, bins: number[], sha256: string }

/** The sink's report among its output lines. */
export function flowReport (lines: readonly string[]): FlowReport {
  const line = lines.find((l) => l.startsWith('{'))
  if (line === undefined) throw new Error(`tcp-flow sink printed no report:\n${lines.slice(-20).join('\n')}`)
  return JSON.parse(line) as FlowReport
}

/** Seconds from t0 to a CLOCK_MONOTONIC ns timestamp of the report. */
export function sinceS (ns: string, t0Ns: bigint): number { return Number(BigInt(ns) - t0Ns) / 1e9 }

/**
 * Gaps between reads, as [seconds since t0, ms], longest first, leaving out the flow's end (the
 * source stops at its deadline `seconds` after its first byte, which is no stall).
 */
export function flowStalls (r: FlowReport, t0Ns: bigint, seconds: number): Array<[number, number]> {
  const endS = sinceS(r.firstNs, t0Ns) + seconds - 0.3
  return r.gaps.map(([at, ms]) => [sinceS(at, t0Ns), ms] as [number, number]).filter(([atS]) => atS < endS)
}

/** Mean goodput in bit/s over the sink's 100 ms bins from `fromS` after the first byte, the last (partial) bin left out. */
export function flowGoodputBps (r: FlowReport, fromS: number): number {
  const bins = r.bins.slice(Math.round(fromS * 10), -1)
  if (bins.length === 0) return NaN
  return bins.reduce((a, b) => a + b, 0) * 8 / (bins.length * 0.1)
}

/** The sink's goodput per 100 ms bin in Mbit/s, against seconds since t0. */
export function flowSeries (r: FlowReport, t0Ns: bigint, name = 'goodput (receiver)'): Series {
  const firstS = sinceS(r.firstNs, t0Ns)
  return { name, points: r.bins.map((b, i) => [firstS + (i + 1) * 0.1, b * 8 / 0.1 / 1e6]) }
}

export function slug (s: string): string { return s.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') }

/** Replaces the section of BENCHMARKS.md that starts with `title` (a "## " line), or appends it. */
export function writeBenchmarkSection (title: string, section: string, file = benchmarksFile): void {
  let text = ''
  try { text = readFileSync(file, 'utf8') } catch {}
  const start = text.indexOf(title)
  if (start < 0) text = `${text.trimEnd()}\n\n${section}`
  else {
    const next = text.indexOf('\n## ', start + title.length)
    text = text.slice(0, start) + section + (next < 0 ? '' : text.slice(next + 1))
  }
  writeFileSync(file, text.endsWith('\n') ? text : text + '\n')
}
