// `npm run sim`: every scenario of issue 4 for gst and both baselines in one deterministic run;
// prints the table and writes one SVG per scenario into bench/out/.
// `npm run sim -- --trace NAME [--every MS]`: instead, gst alone in scenario NAME with one line per
// sample of its per-path estimates against the links' real queues (bench/sim/trace.ts).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScenario, type ScenarioResult } from './scenario.js'
import { issueScenarios } from './scenarios.js'
import { gstDesign, glorytunDesign, mlvpnDesign } from './designs.js'
import { plotScenario } from './plot.js'
import { formatTable, verdicts } from './report.js'
import { traceLine } from './trace.js'

const seed = 1
const args = process.argv.slice(2)
const traceName = args.includes('--trace') ? args[args.indexOf('--trace') + 1] : undefined
if (traceName !== undefined) {
  const scenario = issueScenarios().find((s) => s.name === traceName)
  if (!scenario) {
    console.error(`no scenario ${traceName}; one of: ${issueScenarios().map((s) => s.name).join(', ')}`)
    process.exitCode = 2
  } else {
    const everyMs = args.includes('--every') ? Number(args[args.indexOf('--every') + 1]) : 100
    const result = runScenario(scenario, gstDesign(), seed, { everyMs, onSample: (v) => console.log(traceLine(v)) })
    console.log(formatTable([result]))
  }
} else {
  const outDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../bench/out')
  mkdirSync(outDir, { recursive: true })
  const results: ScenarioResult[] = []
  for (const scenario of issueScenarios()) {
    const rates = scenario.links.map((l) => l.rateBitsPerSec)
    const row = [gstDesign(), glorytunDesign(rates, seed), mlvpnDesign(rates)].map((d) => runScenario(scenario, d, seed))
    results.push(...row)
    const file = join(outDir, `sim-${scenario.name}.svg`)
    writeFileSync(file, plotScenario(`${scenario.name}: data received per path and goodput (Mbit/s)`, row))
  }
  console.log(formatTable(results))
  console.log('')
  for (const line of verdicts(results)) console.log(line)
  console.log(`\nplots: ${outDir}/sim-*.svg`)
}
