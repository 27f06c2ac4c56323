/**
 * `gst show` rendering: a StatusReport as aligned text tables or JSON, and the `--watch` screen
 * built from a history of reports. Pure: no clock (ages are relative to each report's `at`), no
 * terminal; cmd/ writes the strings and the ANSI clear/home around them.
 */
import { allPaths, ERROR_KINDS, type PathStatus, type StatusReport } from './status.js'

// ---- units

const BYTE_UNITS = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB']

/** 0 B, 512 B, 1.5 KiB, 20.0 MiB, 3.25 GiB (powers of 1024, three significant digits). */
export function formatBytes (bytes: number | null): string {
  if (bytes === null || !Number.isFinite(bytes)) return '-'
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) { value /= 1024; unit++ }
  if (unit === 0) return `${Math.round(value)} B`
  return `${value >= 100 ? value.toFixed(0) : value >= 10 ? value.toFixed(1) : value.toFixed(2)} ${BYTE_UNITS[unit]}`
}

/** A rate in Mbit/s (the unit people compare links in), or Gbit/s / kbit/s when far from it. */
export function formatRate (bitsPerSec: number | null): string {
  if (bitsPerSec === null || !Number.isFinite(bitsPerSec)) return '-'
  if (bitsPerSec >= 1e9) return `${(bitsPerSec / 1e9).toFixed(2)} Gbit/s`
  if (bitsPerSec >= 1e6) return `${(bitsPerSec / 1e6).toFixed(bitsPerSec >= 1e8 ? 0 : 1)} Mbit/s`
  if (bitsPerSec >= 1e3) return `${(bitsPerSec / 1e3).toFixed(bitsPerSec >= 1e5 ? 0 : 1)} kbit/s`
  return `${Math.round(bitsPerSec)} bit/s`
}

/** 0.31 ms, 4.2 ms, 61 ms, 1250 ms. */
export function formatMs (ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '-'
  if (ms < 1) return `${ms.toFixed(2)} ms`
  if (ms < 10) return `${ms.toFixed(1)} ms`
  return `${Math.round(ms)} ms`
}

export function formatPct (pct: number | null): string {
  if (pct === null || !Number.isFinite(pct)) return '-'
  return `${pct < 10 ? pct.toFixed(1) : Math.round(pct)} %`
}

/** 42s, 3m 05s, 2h 07m, 4d 03h. */
export function formatDuration (seconds: number): string {
  const s = Math.max(0, Math.floor(seconds))
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`
  if (s < 86400) return `${Math.floor(s / 3600)}h ${String(Math.floor(s / 60) % 60).padStart(2, '0')}m`
  return `${Math.floor(s / 86400)}d ${String(Math.floor(s / 3600) % 24).padStart(2, '0')}h`
}

/** How long before `now` the ISO time `at` was, e.g. "12s ago"; "-" when unknown. */
export function formatAge (at: string | null, now: string): string {
  if (at === null) return '-'
  const ms = Date.parse(now) - Date.parse(at)
  if (!Number.isFinite(ms)) return '-'
  return `${formatDuration(ms / 1000)} ago`
}

// ---- tables

/** Display width: one column per code point (the box and block characters used here are narrow). */
function width (text: string): number {
  return [...text].length
}

/**
 * Aligns rows into columns two spaces apart. `rightAligned[i]` right-aligns column i (numbers).
 * The last column carries no trailing spaces.
 */
export function renderTable (rows: string[][], rightAligned: boolean[] = []): string[] {
  const widths: number[] = []
  for (const row of rows) row.forEach((cell, i) => { widths[i] = Math.max(widths[i] ?? 0, width(cell)) })
  return rows.map((row) => row.map((cell, i) => {
    const pad = ' '.repeat((widths[i] ?? 0) - width(cell))
    if (rightAligned[i] === true) return pad + cell
    return i === row.length - 1 ? cell : cell + pad
  }).join('  ').trimEnd())
}

// ---- one report

function headerLine (report: StatusReport): string {
  const i = report.instance
  const parts = [`${i.name} (${i.mode})`, `pid ${i.pid}`, `up ${formatDuration(i.uptimeS)}`, `listen ${i.listen}`]
  if (i.target !== null) parts.push(`target ${i.target}`)
  if (i.server !== null) parts.push(`server ${i.server}`)
  return parts.join(' · ')
}

function sessionRows (report: StatusReport): string[] {
  if (report.sessions.length === 0) return ['sessions  none']
  const rows = [['SESSION', 'PEER', 'STATE', 'FOR', 'RTT', 'REKEYS', 'STREAMS', 'IN', 'OUT']]
  for (const s of report.sessions) {
    rows.push([
      s.id, s.peer, s.state, s.since === null ? '-' : formatAge(s.since, report.at).replace(/ ago$/, ''), formatMs(s.rttMs), String(s.rekeys),
      s.streams === null ? '-' : `${s.streams.active}/${s.streams.total}`, formatBytes(s.bytesIn), formatBytes(s.bytesOut),
    ])
  }
  return renderTable(rows, [false, false, false, true, true, true, true, true, true])
}

function pathRows (report: StatusReport): string[] {
  const paths = allPaths(report)
  if (paths.length === 0) return []
  const rows = [['PATH', 'LOCAL', 'REMOTE', 'STATE', 'RTT', 'LOSS', 'RATE', 'MTU', 'IN', 'OUT']]
  for (const { sessionId, path: p } of paths) {
    rows.push([
      `${sessionId}/${p.id}`, p.local, p.remote, p.state, formatMs(p.rttMs), formatPct(p.lossPct), formatRate(p.rateBitsPerSec),
      p.mtuBytes === null ? '-' : `${p.mtuBytes} B`, formatBytes(p.bytesIn), formatBytes(p.bytesOut),
    ])
  }
  return renderTable(rows, [false, false, false, false, true, true, true, true, true, true])
}

function streamLine (report: StatusReport): string[] {
  const s = report.streams
  if (s === null) return []
  return [`streams   ${s.active} active, ${s.total} total, ${s.refused} refused`]
}

function errorRows (report: StatusReport): string[] {
  const rows = [['ERRORS', 'COUNT', 'LAST SOURCE', 'LAST SEEN']]
  for (const kind of ERROR_KINDS) {
    const e = report.errors[kind]
    if (e === undefined || e.count === 0) continue
    rows.push([kind, String(e.count), e.lastSource ?? '-', formatAge(e.lastAt, report.at)])
  }
  if (rows.length === 1) return ['errors    none']
  return renderTable(rows, [false, true, false, false])
}

/** Resource caps sessions hit, one row per session and cap (none when no cap was hit). */
function capRows (report: StatusReport): string[] {
  const rows = [['CAP HITS', 'SESSION', 'COUNT']]
  for (const s of report.sessions) {
    for (const [cap, count] of Object.entries(s.capHits ?? {})) if (count > 0) rows.push([cap, s.id, String(count)])
  }
  return rows.length === 1 ? [] : renderTable(rows, [false, false, true])
}

/** The human view of one instance: header, sessions, paths, streams, errors, cap hits. */
export function renderStatus (report: StatusReport): string {
  const errors = errorRows(report)
  const blocks = [[headerLine(report)], sessionRows(report), pathRows(report)]
  // "errors none" sits under the streams line; a table of errors gets its own block.
  if (errors.length === 1) blocks.push([...streamLine(report), ...errors])
  else blocks.push(streamLine(report), errors)
  blocks.push(capRows(report))
  return blocks.filter((b) => b.length > 0).map((b) => b.join('\n')).join('\n\n') + '\n'
}

/** Several instances, one after another. */
export function renderStatuses (reports: StatusReport[]): string {
  return reports.map(renderStatus).join('\n')
}

/** JSON for scripts: one report (a NAME was given) or an array (every instance), two-space indented. */
export function renderJson (report: StatusReport | StatusReport[]): string {
  return JSON.stringify(report, null, 2) + '\n'
}

// ---- --watch

export const SPARK_LEVELS = '▁▂▃▄▅▆▇█'

/** One character per value scaled to `max` (default: the largest value); null is a blank. */
export function sparkline (values: Array<number | null>, max?: number): string {
  const top = max ?? Math.max(0, ...values.map((v) => v ?? 0))
  return values.map((v) => {
    if (v === null || !Number.isFinite(v)) return ' '
    if (top <= 0) return SPARK_LEVELS[0]
    const level = Math.round(Math.min(1, Math.max(0, v / top)) * (SPARK_LEVELS.length - 1))
    return SPARK_LEVELS[level]
  }).join('')
}

export interface ThroughputSample {
  /** Interval the sample covers, ms since the epoch. */
  fromMs: number
  toMs: number
  bitsInPerSec: number
  bitsOutPerSec: number
}

/** Throughput of one path between consecutive reports (a counter that went backwards restarts it). */
export function pathThroughput (history: StatusReport[], sessionId: string, pathId: string): ThroughputSample[] {
  const samples: ThroughputSample[] = []
  let previous: { atMs: number, path: PathStatus } | undefined
  for (const report of history) {
    const atMs = Date.parse(report.at)
    const path = report.sessions.find((s) => s.id === sessionId)?.paths?.find((p) => p.id === pathId)
    if (path === undefined || !Number.isFinite(atMs)) { previous = undefined; continue }
    if (previous !== undefined && atMs > previous.atMs && path.bytesIn >= previous.path.bytesIn && path.bytesOut >= previous.path.bytesOut) {
      const seconds = (atMs - previous.atMs) / 1000
      samples.push({
        fromMs: previous.atMs,
        toMs: atMs,
        bitsInPerSec: (path.bytesIn - previous.path.bytesIn) * 8 / seconds,
        bitsOutPerSec: (path.bytesOut - previous.path.bytesOut) * 8 / seconds,
      })
    }
    previous = { atMs, path }
  }
  return samples
}

/**
 * Splits the `windowS` seconds before `endMs` into `bins` bins and gives each the time-weighted
 * mean of the samples overlapping it (in + out), or null where no sample covers it.
 */
export function binThroughput (samples: ThroughputSample[], endMs: number, windowS: number, bins: number): Array<number | null> {
  const binMs = windowS * 1000 / bins
  const startMs = endMs - windowS * 1000
  const sum = new Array<number>(bins).fill(0)
  const covered = new Array<number>(bins).fill(0)
  for (const s of samples) {
    const rate = s.bitsInPerSec + s.bitsOutPerSec
    const first = Math.max(0, Math.floor((s.fromMs - startMs) / binMs))
    const last = Math.min(bins - 1, Math.ceil((s.toMs - startMs) / binMs) - 1)
    for (let i = first; i <= last; i++) {
      const overlap = Math.min(s.toMs, startMs + (i + 1) * binMs) - Math.max(s.fromMs, startMs + i * binMs)
      if (overlap <= 0) continue
      sum[i]! += rate * overlap
      covered[i]! += overlap
    }
  }
  return sum.map((total, i) => covered[i]! > 0 ? total / covered[i]! : null)
}

export interface WatchOptions {
  /** Seconds of history the sparkline spans (default 60). */
  windowS?: number
  /** Characters in the sparkline (default 60: one per second over a minute). */
  bins?: number
}

/**
 * The `--watch` screen of one instance from its reports, oldest first (the newest is shown):
 * the usual tables, then per path its throughput now and over the last minute as a sparkline.
 */
export function renderWatch (history: StatusReport[], options: WatchOptions = {}): string {
  const latest = history[history.length - 1]
  if (latest === undefined) return ''
  const windowS = options.windowS ?? 60
  const bins = options.bins ?? 60
  const endMs = Date.parse(latest.at)
  const recent = history.filter((r) => Date.parse(r.at) >= endMs - windowS * 1000 - 5000)
  const rows = [['PATH', 'LOCAL', 'REMOTE', 'STATE', 'IN NOW', 'OUT NOW', `LAST ${formatDuration(windowS)}`, 'PEAK']]
  for (const { sessionId, path } of allPaths(latest)) {
    const samples = pathThroughput(recent, sessionId, path.id)
    const values = binThroughput(samples, endMs, windowS, bins)
    const now = samples[samples.length - 1]
    const peak = Math.max(0, ...values.map((v) => v ?? 0))
    rows.push([
      `${sessionId}/${path.id}`, path.local, path.remote, path.state,
      now === undefined ? '-' : formatRate(now.bitsInPerSec), now === undefined ? '-' : formatRate(now.bitsOutPerSec),
      sparkline(values, peak), formatRate(peak),
    ])
  }
  const blocks = [[headerLine(latest)], sessionRows(latest)]
  if (rows.length > 1) blocks.push(renderTable(rows, [false, false, false, false, true, true, false, true]))
  blocks.push([...streamLine(latest), ...errorRows(latest)])
  return blocks.map((b) => b.join('\n')).join('\n\n') + '\n'
}
