import type { ScenarioResult } from './scenario.js'

const fmt = (v: number, digits = 0): string => Number.isFinite(v) ? v.toFixed(digits) : '-'

export function formatTable (results: ScenarioResult[]): string {
  const head = ['scenario', 'design', 'Mbit/s', 'share%', 'stall ms', 'back ms', 'held', 'held:reo', 'skipped', 'ooo', 'repairs', 'refused', 'tcp rtx', 'rto', 'parity', 'rebuilt']
  const rows = results.map((r) => [
    r.scenario, r.design, fmt(r.goodputBitsPerSec / 1e6, 2), fmt(r.share * 100, 1),
    fmt(r.longestStallMs), fmt(r.backInUseMs), String(r.held), String(r.held - r.heldBehindLoss), String(r.skipped), String(r.outOfOrder),
    String(r.repairs), String(r.refused), String(r.tcpRetransmits), String(r.tcpRtos), String(r.fecParities), String(r.fecRebuilt),
  ])
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

interface Target {
  label: string
  unit: string
  /** The target's figure in one run (undefined: the scenario was not run). */
  value: (gst: (name: string) => ScenarioResult | undefined) => number | undefined
  ok: (v: number) => boolean
}

const gstOf = (results: ScenarioResult[]) => (name: string): ScenarioResult | undefined => results.find((r) => r.scenario === name && r.design === 'gst')

/** Issue 4's targets, on gst's rows only (baselines are there for comparison). */
const TARGETS: Target[] = [
  { label: 'aggregate: one flow >= 95 % of 30 Mbit/s', unit: '%', value: (g) => mapRow(g('aggregate'), (r) => r.share * 100), ok: (v) => v >= 95 },
  { label: '50 ms skew: out-of-order deliveries = 0', unit: '', value: (g) => mapRow(g('aggregate'), (r) => r.outOfOrder), ok: (v) => v === 0 },
  { label: '5 % loss on l2: >= 28 Mbit/s', unit: 'Mbit/s', value: (g) => mapRow(g('loss5-l2'), (r) => r.goodputBitsPerSec / 1e6), ok: (v) => v >= 28 },
  { label: 'cut-busy: stall <= 300 ms', unit: 'ms', value: (g) => mapRow(g('cut-busy'), (r) => r.longestStallMs), ok: (v) => v <= 300 },
  { label: 'cut-busy: back <= 1000 ms', unit: 'ms', value: (g) => mapRow(g('cut-busy'), (r) => r.backInUseMs), ok: (v) => v <= 1000 },
  { label: 'cut-idle: stall <= 300 ms', unit: 'ms', value: (g) => mapRow(g('cut-idle'), (r) => r.longestStallMs), ok: (v) => v <= 300 },
  { label: 'cut-idle: back <= 1000 ms', unit: 'ms', value: (g) => mapRow(g('cut-idle'), (r) => r.backInUseMs), ok: (v) => v <= 1000 },
  { label: 'equal delays: held for reordering = 0', unit: '', value: (g) => mapRow(g('equal-delay'), (r) => r.held - r.heldBehindLoss), ok: (v) => v === 0 },
]

function mapRow (r: ScenarioResult | undefined, f: (r: ScenarioResult) => number): number | undefined {
  return r ? f(r) : undefined
}

/** Each target's range over several runs (e.g. l1's delay shifted a little in each): PASS only if every run passes. */
export function verdictRanges (runs: ScenarioResult[][]): string[] {
  const out: string[] = []
  for (const t of TARGETS) {
    const values = runs.map((results) => t.value(gstOf(results))).filter((v): v is number => v !== undefined)
    if (values.length === 0) continue
    const ok = values.every((v) => t.ok(v))
    const digits = t.unit === 'ms' || t.unit === '' ? 0 : t.unit === '%' ? 1 : 2
    out.push(`${ok ? 'PASS' : 'FAIL'}  ${t.label}: ${values.map((v) => fmt(v, digits)).join(' / ')}${t.unit ? ' ' + t.unit : ''}`)
  }
  return out
}

/** The targets, checked on gst's rows only (baselines are there for comparison). */
export function verdicts (results: ScenarioResult[]): string[] {
  const gst = (name: string): ScenarioResult | undefined => results.find((r) => r.scenario === name && r.design === 'gst')
  const out: string[] = []
  const check = (ok: boolean, text: string): void => { out.push(`${ok ? 'PASS' : 'FAIL'}  ${text}`) }
  const agg = gst('aggregate')
  if (agg) {
    check(agg.share >= 0.95, `one flow's goodput >= 95 % of 30 Mbit/s: ${fmt(agg.share * 100, 1)} %`)
    check(agg.outOfOrder === 0, `50 ms skew: out-of-order deliveries to the flow = ${agg.outOfOrder} (holes skipped: ${agg.skipped})`)
  }
  const loss = gst('loss5-l2')
  if (loss) check(loss.goodputBitsPerSec >= 28e6, `5 % loss on l2: ${fmt(loss.goodputBitsPerSec / 1e6, 2)} Mbit/s >= 20 + 0.8 x 10 = 28 Mbit/s`)
  for (const name of ['cut-busy', 'cut-idle']) {
    const r = gst(name)
    if (!r) continue
    check(r.longestStallMs <= 300, `${name}: longest delivery stall ${fmt(r.longestStallMs)} ms <= 300 ms`)
    check(r.backInUseMs <= 1000, `${name}: restored l2 back in use after ${fmt(r.backInUseMs)} ms <= 1000 ms`)
  }
  const eq = gst('equal-delay')
  if (eq) {
    const byReordering = eq.held - eq.heldBehindLoss
    check(byReordering === 0, `equal delays: packets held by the reorder buffer for reordering = ${byReordering} (${eq.held - byReordering} more waited behind ${eq.skipped} lost packets' holes)`)
  }
  return out
}
