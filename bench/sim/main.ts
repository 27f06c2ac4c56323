// `npm run sim`: every scenario of issue 4 for gst and both baselines in one deterministic run;
// prints the table and writes one SVG per scenario into bench/out/.
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { runScenario, type ScenarioResult } from './scenario.js'
import { issueScenarios } from './scenarios.js'
import { gstDesign, glorytunDesign, mlvpnDesign } from './designs.js'
import { plotScenario } from './plot.js'
import { formatTable, verdicts } from './report.js'

const seed = 1
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
