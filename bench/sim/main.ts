// `npm run sim`: every scenario of issue 4 for gst and both baselines in one deterministic run;
// prints the table and writes one SVG per scenario into bench/out/.
// `npm run sim -- --trace NAME [--every MS]`: instead, gst alone in scenario NAME with one line per
// sample of its per-path estimates against the links' real queues (bench/sim/trace.ts).
// `--l1-delay-shift MS[,MS...]` moves l1's one-way delay by MS in every scenario (one run per
// value); `--jitter-runs N` is the same with the first N of JITTER_SHIFTS_MS. The sim is
// deterministic but chaotic (moving one TCP loss by a millisecond moves a row by a few %), so
// a change is judged on several such runs; with more than one run only gst's rows are printed,
// then each target's range over the runs. `--gst-only` leaves the baselines out; `--no-fec` runs
// gst without FEC (an A/B of src/multipath/fec-*.ts); `--packet-pair` measures every path's rate
// with a packet pair before it carries data (by default only paths that share a base delay do:
// TunnelDesign.packetPair 'same-delay'); `--no-same-delay-models` runs gst without the three
// same-delay options (packet pair, control bytes counted, stale corrections bounded: an A/B of
// them, see BENCHMARKS.md); `--pairs-at-tick` sends a due pair at the next housekeeping tick,
// not on the feedback that makes it due, and `--no-pair-rate` lets a pair-measured estimate wear
// down (TunnelDesign.pairsOnFirstSample, keepsPairRate: A/Bs of session 6's sim8 part).
// `--trace-holds SCENARIO [--lines N]` runs gst alone in SCENARIO and explains each unit the
// reorder buffer held (bench/sim/hold-trace.ts). `--late-repairs` repairs every unit a failing path
// hands back, even after the receiver skipped its hole, and `--rttvar-timeouts` takes the silence
// timeouts' variation from rttvar (TunnelDesign.dropsLateRepairs, timeoutFromLateness: A/Bs of
// session 7's sim10 part). `--trace-events SCENARIO [--from MS] [--to MS]` prints gst's events
// in SCENARIO between the two times: units sent, released, arrived, delivered, the inner flow's
// sends and retransmissions, path states, skips, late arrivals, refusals and RTOs (bench/sim/event-trace.ts).
// `--cut-link 1` cuts l1 (the fast link) in the cut scenarios instead of l2.
// `--trace-causes SCENARIO [--every MS]` prints,
// per interval (1 s by default), what the inner flow saw as loss and where it came from (the
// tunnel's refusals, skipped holes, link drops, repairs, FEC) against its loss recoveries,
// retransmits, RTOs, cwnd, ssthresh and goodput (bench/sim/trace.ts causesLine).
// `--no-handshake`: the inner flow's first window leaves at 1 ms, before any path has an RTT
// sample (the model before session 7; by default it opens with a SYN / SYN-ACK, Scenario.innerHandshake).
// `--overflow-ceiling-paced` holds paced paths to the overflow ceiling too (gst without
// AutoScheduler.pacedIgnoresOverflow), `--overflow-any-two` takes any two nacks near the largest
// queue for overflow (without Path.overflowNeedsRun), `--flat-budget` keeps the 40 ms standing
// budget while a path is lossy (without AutoScheduler.lossyBudgetExtraMs): A/Bs of session 7's sim9 part.
// `--failover-repairs-raise-hold`: a failing path's repair that comes after its hole was skipped
// lengthens the reorder hold as any late arrival does (gst without ignoresLateRepairs: sim11's A/B).
// `--no-tail-repeat`: receivers do not repeat a burst's last feedback (gst without
// TunnelDesign.repeatsTailFeedback: session 12's A/B).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScenario, type Scenario, type ScenarioResult } from './scenario.js'
import { issueScenarios } from './scenarios.js'
import { gstDesign as gstDesignWith, glorytunDesign, mlvpnDesign } from './designs.js'
import { plotScenario } from './plot.js'
import { formatTable, verdicts, verdictRanges } from './report.js'
import { traceLine, causeCounts, causesLine, noCauses, type CauseCounts } from './trace.js'
import { HoldTracer } from './hold-trace.js'
import { traceEvents } from './event-trace.js'
import { benchArgs } from '../lib/bench-args.js'

/** l1 delay shifts (ms) of `--jitter-runs`: small enough to change no figure's meaning, large enough to move every event. */
const JITTER_SHIFTS_MS = [0, 0.013, 0.029, 0.041, 0.057, 0.071, 0.083, 0.097]

const seed = 1
const FLAGS = ['gst-only', 'no-handshake', 'no-fec', 'no-same-delay-models', 'packet-pair', 'pairs-at-tick', 'no-pair-rate', 'late-repairs',
  'rttvar-timeouts', 'overflow-ceiling-paced', 'overflow-any-two', 'flat-budget', 'failover-repairs-raise-hold', 'no-tail-repeat'] as const
const args = benchArgs('npm run sim -- [--gst-only] [--l1-delay-shift MS[,MS...] | --jitter-runs N] [--cut-link 1|2] ' +
  '[--trace NAME | --trace-holds NAME [--lines N] | --trace-causes NAME | --trace-events NAME [--from MS] [--to MS]] [--every MS] ' +
  FLAGS.filter((f) => f !== 'gst-only').map((f) => `[--${f}]`).join(' ') + ' (each flag: see the comment at the top of bench/sim/main.ts)', {
  'l1-delay-shift': 'string', 'jitter-runs': 'string', 'cut-link': 'string', trace: 'string', 'trace-holds': 'string', 'trace-causes': 'string',
  'trace-events': 'string', every: 'number', from: 'number', to: 'number', lines: 'number',
  ...Object.fromEntries(FLAGS.map((f) => [f, 'flag' as const])),
})
const flag = (name: typeof FLAGS[number]): boolean => args.flag(name)
const valueOf = (name: string): string | undefined => args.string(name, undefined)
// Number options are read (and so checked) here, before any scenario runs; NaN: the mode's default.
const everyOpt = args.number('every', NaN)
const fromOpt = args.number('from', 0)
const toOpt = args.number('to', NaN)
const linesOpt = args.number('lines', 200)

function fail (message: string): never {
  console.error(message)
  process.exit(2)
}

function shiftsFromArgs (): number[] {
  const shift = valueOf('l1-delay-shift')
  const runs = valueOf('jitter-runs')
  if (shift !== undefined && runs !== undefined) fail('--l1-delay-shift and --jitter-runs are exclusive: give one')
  if (shift !== undefined) {
    const values = shift.split(',').map(Number)
    if (values.some((v) => !Number.isFinite(v) || v < 0 || v > 5)) fail(`--l1-delay-shift wants ms values in 0..5, comma-separated; got ${shift}`)
    return values
  }
  if (runs !== undefined) {
    const n = Number(runs)
    if (!Number.isInteger(n) || n < 1 || n > JITTER_SHIFTS_MS.length) fail(`--jitter-runs wants an integer 1..${JITTER_SHIFTS_MS.length}; got ${runs}`)
    return JITTER_SHIFTS_MS.slice(0, n)
  }
  return [0]
}

/** `--cut-link N`: the cut scenarios cut link N (1 = l1, the fast one; default 2, the issue's). */
function cutLinkFromArgs (): number {
  const value = valueOf('cut-link')
  if (value === undefined) return 1
  if (value !== '1' && value !== '2') fail(`--cut-link wants 1 or 2; got ${value}`)
  return Number(value) - 1
}
const cutLink = cutLinkFromArgs()

/** The issue's scenarios with l1's one-way delay moved by `shiftMs` (and the cut on `--cut-link`). */
function scenariosShifted (shiftMs: number): Scenario[] {
  return issueScenarios(1, !flag('no-handshake')).map((s) => ({
    ...s,
    links: s.links.map((l, i) => (i === 0 ? { ...l, delayMs: l.delayMs + shiftMs } : l)),
    ...(s.cut ? { cut: { ...s.cut, link: cutLink } } : {}),
  }))
}

const shifts = shiftsFromArgs()
const gstOverrides = {
  ...(flag('no-fec') ? { fec: false } : {}),
  ...(flag('no-same-delay-models') ? { packetPair: false, countsControlBytes: false, boundsStaleCorrections: false } : {}),
  ...(flag('packet-pair') ? { packetPair: true } : {}),
  ...(flag('pairs-at-tick') ? { pairsOnFirstSample: false } : {}),
  ...(flag('no-pair-rate') ? { keepsPairRate: false } : {}),
  ...(flag('late-repairs') ? { dropsLateRepairs: false } : {}),
  ...(flag('rttvar-timeouts') ? { timeoutFromLateness: false } : {}),
  ...(flag('overflow-ceiling-paced') ? { pacedIgnoresOverflow: false } : {}),
  ...(flag('overflow-any-two') ? { overflowNeedsRun: false } : {}),
  ...(flag('flat-budget') ? { lossyBudgetExtraMs: 0 } : {}),
  ...(flag('failover-repairs-raise-hold') ? { ignoresLateRepairs: false } : {}),
  ...(flag('no-tail-repeat') ? { repeatsTailFeedback: false } : {}),
}
const gstDesign = (): ReturnType<typeof gstDesignWith> => gstDesignWith(gstOverrides)
const traceName = valueOf('trace')
const holdsName = valueOf('trace-holds')
const causesName = valueOf('trace-causes')
const eventsName = valueOf('trace-events')
if (eventsName !== undefined) {
  const scenario = scenariosShifted(shifts[0]!).find((s) => s.name === eventsName)
  if (!scenario) fail(`no scenario ${eventsName}; one of: ${issueScenarios().map((s) => s.name).join(', ')}`)
  const fromMs = fromOpt
  const toMs = Number.isNaN(toOpt) ? scenario.durationMs : toOpt
  if (!(toMs >= fromMs)) fail(`--from and --to want ms with 0 <= from <= to; got ${fromMs}, ${toMs}`)
  const result = traceEvents(scenario, gstDesign(), seed, fromMs, toMs, (line) => console.log(line))
  console.log(formatTable([result]))
} else if (holdsName !== undefined) {
  const scenario = scenariosShifted(shifts[0]!).find((s) => s.name === holdsName)
  if (!scenario) fail(`no scenario ${holdsName}; one of: ${issueScenarios().map((s) => s.name).join(', ')}`)
  const tracer = new HoldTracer()
  const result = runScenario(scenario, gstDesign(), seed, undefined, tracer)
  const lines = linesOpt
  if (!Number.isInteger(lines)) fail(`--lines wants a whole count; got ${lines}`)
  for (const line of tracer.report(lines)) console.log(line)
  console.log(formatTable([result]))
} else if (causesName !== undefined) {
  const scenario = scenariosShifted(shifts[0]!).find((s) => s.name === causesName)
  if (!scenario) fail(`no scenario ${causesName}; one of: ${issueScenarios().map((s) => s.name).join(', ')}`)
  const everyMs = Number.isNaN(everyOpt) ? 1000 : everyOpt
  if (!(everyMs > 0)) fail('--every wants ms > 0')
  let before: CauseCounts | undefined
  const result = runScenario(scenario, gstDesign(), seed, {
    everyMs,
    onSample: (v) => {
      const now = causeCounts(v)
      console.log(causesLine(v, before ?? noCauses(now.linkDrops.length), now, everyMs))
      before = now
    },
  })
  console.log(formatTable([result]))
} else if (traceName !== undefined) {
  const scenario = scenariosShifted(shifts[0]!).find((s) => s.name === traceName)
  if (!scenario) fail(`no scenario ${traceName}; one of: ${issueScenarios().map((s) => s.name).join(', ')}`)
  const everyMs = Number.isNaN(everyOpt) ? 100 : everyOpt
  if (!(everyMs > 0)) fail('--every wants ms > 0')
  const result = runScenario(scenario, gstDesign(), seed, { everyMs, onSample: (v) => console.log(traceLine(v)) })
  console.log(formatTable([result]))
} else if (shifts.length > 1) {
  const runs: ScenarioResult[][] = []
  for (const shiftMs of shifts) {
    const results = scenariosShifted(shiftMs).map((s) => runScenario(s, gstDesign(), seed))
    runs.push(results)
    console.log(`l1 delay +${shiftMs} ms`)
    console.log(formatTable(results))
    console.log('')
  }
  for (const line of verdictRanges(runs)) console.log(line)
} else {
  const gstOnly = flag('gst-only')
  const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/out')
  mkdirSync(outDir, { recursive: true })
  const results: ScenarioResult[] = []
  for (const scenario of scenariosShifted(shifts[0]!)) {
    const rates = scenario.links.map((l) => l.rateBitsPerSec)
    const designs = gstOnly ? [gstDesign()] : [gstDesign(), glorytunDesign(rates, seed), mlvpnDesign(rates)]
    const row = designs.map((d) => runScenario(scenario, d, seed))
    results.push(...row)
    const file = join(outDir, `sim-${scenario.name}.svg`)
    writeFileSync(file, plotScenario(`${scenario.name}: data received per path and goodput (Mbit/s)`, row))
  }
  if (shifts[0] !== 0) console.log(`l1 delay +${shifts[0]!} ms`)
  console.log(formatTable(results))
  console.log('')
  for (const line of verdicts(results)) console.log(line)
  console.log(`\nplots: ${outDir}/sim-*.svg`)
}
