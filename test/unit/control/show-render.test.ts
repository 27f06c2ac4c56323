import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  formatBytes, formatRate, formatMs, formatPct, formatDuration, formatAge, renderTable, renderStatus, renderStatuses, renderJson,
  sparkline, pathThroughput, binThroughput, renderWatch, SPARK_LEVELS,
} from '../../../src/control/show-render.js'
import { assertStatusReport, emptyErrorCounters, ERROR_KINDS } from '../../../src/control/status.js'
import { at, path, report, session } from './fixtures.js'

test('units: bytes in powers of 1024, rates in Mbit/s, times in ms, durations', () => {
  const bytes: Array<[number | null, string]> = [[0, '0 B'], [1023, '1023 B'], [1024, '1.00 KiB'], [1536, '1.50 KiB'], [10 * 1024, '10.0 KiB'],
    [200 * 1024, '200 KiB'], [20 * 1024 ** 2, '20.0 MiB'], [3.25 * 1024 ** 3, '3.25 GiB'], [2 * 1024 ** 4, '2.00 TiB'], [null, '-']]
  for (const [n, text] of bytes) assert.equal(formatBytes(n), text, String(n))
  const rates: Array<[number | null, string]> = [[0, '0 bit/s'], [999, '999 bit/s'], [1500, '1.5 kbit/s'], [250_000, '250 kbit/s'],
    [1e6, '1.0 Mbit/s'], [12.34e6, '12.3 Mbit/s'], [940e6, '940 Mbit/s'], [2.5e9, '2.50 Gbit/s'], [null, '-']]
  for (const [n, text] of rates) assert.equal(formatRate(n), text, String(n))
  const times: Array<[number | null, string]> = [[0.312, '0.31 ms'], [4.24, '4.2 ms'], [61.4, '61 ms'], [1250, '1250 ms'], [null, '-']]
  for (const [n, text] of times) assert.equal(formatMs(n), text, String(n))
  assert.equal(formatPct(0.5), '0.5 %')
  assert.equal(formatPct(12.4), '12 %')
  assert.equal(formatPct(null), '-')
  const durations: Array<[number, string]> = [[0, '0s'], [59.9, '59s'], [60, '1m 00s'], [185, '3m 05s'], [7620, '2h 07m'], [4 * 86400 + 3 * 3600, '4d 03h'], [-5, '0s']]
  for (const [s, text] of durations) assert.equal(formatDuration(s), text, String(s))
  assert.equal(formatAge('2025-01-01T00:00:00Z', '2025-01-01T00:00:12Z'), '12s ago')
  assert.equal(formatAge(null, '2025-01-01T00:00:12Z'), '-')
})

test('tables: columns aligned, numbers right-aligned, no trailing spaces', () => {
  const lines = renderTable([['NAME', 'RTT', 'NOTE'], ['a', '0.31 ms', 'x'], ['longer', '61 ms', '']], [false, true, false])
  assert.deepEqual(lines, [
    'NAME        RTT  NOTE',
    'a       0.31 ms  x',
    'longer    61 ms',
  ])
  // sparkline characters count as one column each
  assert.deepEqual(renderTable([['A', 'B'], ['▁▂▃', 'x']]), ['A    B', '▁▂▃  x'])
})

test('renderStatus: header, sessions, paths, streams and "errors none"', () => {
  const text = renderStatus(report({ sessions: [session({ paths: [path({ bytesIn: 1536, bytesOut: 20 * 1024 * 1024, lossPct: 0.5, rateBitsPerSec: 12.3e6, mtuBytes: 1420 })] })] }))
  const lines = text.split('\n')
  assert.equal(lines[0], 'office (pipe-client) · pid 4242 · up 2m 05s · listen 127.0.0.1:1080 · server 127.0.0.1:43210')
  assert.match(text, /^SESSION {2}PEER +STATE +FOR +RTT +REKEYS +STREAMS +IN +OUT$/m)
  assert.match(text, /^1 +127\.0\.0\.1:43210 +up +2m 05s +0\.42 ms +2 +1\/12 +1\.50 KiB +20\.0 MiB$/m)
  assert.match(text, /^PATH +LOCAL +REMOTE +STATE +RTT +LOSS +RATE +MTU +IN +OUT$/m)
  assert.match(text, /^1\/0 +127\.0\.0\.1:40000 +127\.0\.0\.1:43210 +up +0\.42 ms +0\.5 % +12\.3 Mbit\/s +1420 B +1\.50 KiB +20\.0 MiB$/m)
  assert.match(text, /^streams +1 active, 12 total, 0 refused$/m)
  assert.match(text, /^errors +none$/m)
  assert.ok(text.endsWith('\n') && !text.endsWith('\n\n'))
  for (const line of lines) assert.equal(line, line.trimEnd(), 'no trailing spaces')
})

test('renderStatus: error counters with last source and age, only kinds that happened', () => {
  const errors = emptyErrorCounters()
  errors.handshake = { count: 3, lastSource: '198.51.100.7:50212', lastAt: '2025-01-01T00:01:53.000Z' }
  errors.connect = { count: 1, lastSource: '127.0.0.1:3128', lastAt: '2025-01-01T00:00:05.000Z' }
  const text = renderStatus(report({ errors }))
  assert.match(text, /^ERRORS +COUNT +LAST SOURCE +LAST SEEN$/m)
  assert.match(text, /^handshake +3 +198\.51\.100\.7:50212 +12s ago$/m)
  assert.match(text, /^connect +1 +127\.0\.0\.1:3128 +2m 00s ago$/m)
  assert.doesNotMatch(text, /^decrypt/m)
  assert.doesNotMatch(text, /errors +none/)
})

test('renderStatus: cap hits per session and cap, only those hit; no block when none was', () => {
  const text = renderStatus(report({ sessions: [session({ capHits: { streams: 0, buffer: 58 } }), session({ id: '2', capHits: { reorder: 7 } })] }))
  assert.match(text, /^CAP HITS +SESSION +COUNT$/m)
  assert.match(text, /^buffer +1 +58$/m)
  assert.match(text, /^reorder +2 +7$/m)
  assert.doesNotMatch(text, /^streams +1 +0$/m)
  assert.doesNotMatch(renderStatus(report({ sessions: [session({ capHits: { streams: 0, buffer: 0 } })] })), /CAP HITS/)
})

test('renderStatus: no sessions, VPN without streams, unknown values as "-"', () => {
  const text = renderStatus(report({
    instance: { ...report().instance, mode: 'vpn-server', target: null, server: null, listen: '0.0.0.0:5000' },
    sessions: [],
    streams: null,
  }))
  assert.match(text, /^office \(vpn-server\) · pid 4242 · up 2m 05s · listen 0\.0\.0\.0:5000$/m)
  assert.match(text, /^sessions +none$/m)
  assert.doesNotMatch(text, /streams/)
  const reconnecting = renderStatus(report({ sessions: [session({ id: '-', state: 'backoff', rttMs: null, streams: { active: 0, total: 0 }, paths: [] })] }))
  assert.match(reconnecting, /^- +127\.0\.0\.1:43210 +backoff +2m 05s +- +2 +0\/0/m)
  assert.doesNotMatch(reconnecting, /^PATH/m)
  assert.equal(renderStatuses([report(), report()]).split('office (pipe-client)').length, 3)
})

test('renderJson: round-trips and passes the report check; null survives, nothing is undefined', () => {
  const r = report()
  const parsed: unknown = JSON.parse(renderJson(r))
  assert.deepEqual(parsed, r)
  assertStatusReport(parsed)
  assert.equal((parsed as typeof r).instance.target, null)
  assert.deepEqual(Object.keys((parsed as typeof r).errors).sort(), [...ERROR_KINDS].sort())
  assert.ok(Array.isArray(JSON.parse(renderJson([r, r]))))
  assert.throws(() => assertStatusReport({ ...r, version: 2 }), /status version 2/)
  assert.throws(() => assertStatusReport(null), /not an object/)
  assert.throws(() => assertStatusReport({ ...r, sessions: undefined }), /sessions/)
})

test('sparkline: scaled to the peak, blanks for missing samples', () => {
  assert.equal(sparkline([0, 1, 2, 3, 4, 5, 6, 7]), SPARK_LEVELS)
  assert.equal(sparkline([null, 0, 7, null]), ' ▁█ ')
  assert.equal(sparkline([0, 0]), '▁▁')
  assert.equal(sparkline([5, 10], 20), '▃▅')
  assert.equal(sparkline([]), '')
})

test('pathThroughput: per interval, in and out; a counter going backwards restarts the series', () => {
  const history = [at(0, 0, 0), at(1, 125_000, 12_500), at(3, 375_000, 12_500), at(4, 10, 0), at(5, 125_010, 0)]
  const samples = pathThroughput(history, '1', '0')
  assert.equal(samples.length, 3)
  assert.deepEqual(samples.map((s) => [s.bitsInPerSec, s.bitsOutPerSec]), [[1e6, 1e5], [1e6, 0], [1e6, 0]])
  assert.equal(samples[1]!.toMs - samples[1]!.fromMs, 2000)
  assert.deepEqual(pathThroughput(history, '1', 'nope'), [])
})

test('binThroughput: time-weighted, no gaps between samples, null before the first', () => {
  const base = Date.parse('2025-01-01T00:00:00.000Z')
  const samples = [
    { fromMs: base + 7000, toMs: base + 8000, bitsInPerSec: 1e6, bitsOutPerSec: 0 },
    { fromMs: base + 8000, toMs: base + 10_000, bitsInPerSec: 2e6, bitsOutPerSec: 1e6 },
  ]
  assert.deepEqual(binThroughput(samples, base + 10_000, 10, 10), [null, null, null, null, null, null, null, 1e6, 3e6, 3e6])
  // a bin covered by two samples gets their time-weighted mean: (0.5 s × 1 + 2 s × 3) / 2.5 s
  assert.deepEqual(binThroughput(samples, base + 10_000, 10, 4), [null, null, 1e6, 2.6e6])
  // samples older than the window are ignored
  assert.deepEqual(binThroughput(samples, base + 100_000, 10, 2), [null, null])
})

test('renderWatch: per-path throughput now, a sparkline of the last minute, and its peak', () => {
  const history = []
  // 1 Mbit/s for 30 s, then 2 Mbit/s
  for (let s = 0; s <= 60; s++) history.push(at(s, s <= 30 ? s * 125_000 : 30 * 125_000 + (s - 30) * 250_000))
  const screen = renderWatch(history)
  assert.match(screen, /^office \(pipe-client\)/)
  assert.match(screen, /^PATH +LOCAL +REMOTE +STATE +IN NOW +OUT NOW +LAST 1m 00s +PEAK$/m)
  const row = screen.split('\n').find((l) => l.startsWith('1/0'))
  assert.ok(row !== undefined, screen)
  const spark = /([▁▂▃▄▅▆▇█][▁▂▃▄▅▆▇█ ]{59})/u.exec(row)?.[1]
  assert.ok(spark !== undefined, row)
  assert.equal(spark.length, 60)
  assert.match(spark, /^[▁▂▃▄▅▆▇█]+$/u, 'a sample for every second of the minute')
  assert.equal(spark, '▅'.repeat(30) + '█'.repeat(30), 'half the peak for the first half')
  assert.match(row, / up +2\.0 Mbit\/s +0 bit\/s +[▅█]{60} +2\.0 Mbit\/s$/u)
  assert.match(screen, /errors +none/)
  // one report: no throughput yet, the sparkline is blank
  const first = renderWatch([at(0, 0)])
  assert.match(first, /^1\/0 .* up +- +- +/m)
  assert.equal(renderWatch([]), '')
})
