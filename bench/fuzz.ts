/**
 * Fuzzing at scale: every target in test/fuzz/targets for 1,000,000 inputs (default), each in its
 * own process under a wall-clock limit (a hang that never ends is caught too). Prints a table and
 * writes it into the "## Fuzzing (npm run fuzz)" section of BENCHMARKS.md.
 *
 *   node dist/bench/fuzz.js [--runs N] [--target NAME] [--budget-s S] [--slow-budget-s S] [--no-write]
 *
 * Slow targets (a handshake or an event-loop turn per input: the fake-socket channels, the VPN handshake) stop at their time budget;
 * the table labels them "time-boxed".
 */
import { spawn } from 'node:child_process'
import { readFileSync, writeFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import path from 'node:path'
import os from 'node:os'
import { targets } from '../test/fuzz/targets/index.js'
import { runTarget, type FuzzResult } from '../test/fuzz/run.js'
import { benchArgs } from './lib/bench-args.js'

const SECTION = '## Fuzzing (npm run fuzz)'

const args = benchArgs('node dist/bench/fuzz.js [--runs N] [--target NAME] [--budget-s S] [--slow-budget-s S] [--no-write]',
  { runs: 'number', target: 'string', 'budget-s': 'number', 'slow-budget-s': 'number', 'no-write': 'flag', child: 'string', 'budget-ms': 'number' })

interface Row extends FuzzResult { rssMiB: number, hang: boolean, slow: boolean }

async function child (name: string, runs: number, budgetMs: number): Promise<void> {
  const target = targets.find((t) => t.name === name)
  if (target === undefined) throw new Error(`no target ${name}`)
  const result = await runTarget(target, { runs, budgetMs, batchRuns: 100_000 })
  const row: Row = { ...result, rssMiB: process.memoryUsage().rss / 2 ** 20, hang: false, slow: target.slow ?? false }
  process.stdout.write(`\nRESULT ${JSON.stringify(row)}\n`)
  process.exit(0)
}

function runChild (name: string, runs: number, budgetMs: number, slow: boolean): Promise<Row> {
  const script = fileURLToPath(import.meta.url)
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [script, '--child', name, '--runs', String(runs), '--budget-ms', String(budgetMs)], { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (b: Buffer) => { out += b.toString() })
    const killer = setTimeout(() => p.kill('SIGKILL'), budgetMs + 120_000)
    p.on('close', (code) => {
      clearTimeout(killer)
      const line = out.split('\n').find((l) => l.startsWith('RESULT '))
      if (line !== undefined) return resolve(JSON.parse(line.slice(7)) as Row)
      resolve({ name, inputs: 0, seconds: (budgetMs + 120_000) / 1000, failures: 1, reports: [`process ended (code ${code}) without a result: a hang or a crash`], timeBoxed: true, rssMiB: 0, hang: true, slow })
    })
  })
}

function table (rows: Row[], requested: number): string {
  const lines = [
    '| target | inputs | seconds | inputs/s | failures | RSS at end MiB | note |',
    '|---|---:|---:|---:|---:|---:|---|',
  ]
  for (const r of rows) {
    const note = r.hang ? 'HANG or crash' : r.timeBoxed || r.inputs < requested ? `time-boxed (${r.slow ? 'slow harness' : 'budget'}): ${r.inputs.toLocaleString('en')} of ${requested.toLocaleString('en')}` : ''
    lines.push(`| ${r.name} | ${r.inputs.toLocaleString('en')} | ${r.seconds.toFixed(1)} | ${Math.round(r.inputs / Math.max(r.seconds, 1e-9)).toLocaleString('en')} | ${r.failures} | ${r.rssMiB.toFixed(0)} | ${note} |`)
  }
  return lines.join('\n')
}

function writeSection (text: string): void {
  const file = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../BENCHMARKS.md')
  const current = readFileSync(file, 'utf8')
  const start = current.indexOf(SECTION)
  if (start < 0) { writeFileSync(file, `${current.trimEnd()}\n\n${text}\n`); return }
  const next = current.indexOf('\n## ', start + SECTION.length)
  writeFileSync(file, current.slice(0, start) + text + (next < 0 ? '\n' : `\n${current.slice(next)}`))
}

async function main (): Promise<void> {
  const childName = args.string('child', undefined)
  if (childName !== undefined) return child(childName, args.number('runs', 1_000_000), args.number('budget-ms', 900_000))
  const runs = args.number('runs', 1_000_000)
  const only = args.string('target', undefined)
  const budgetS = args.number('budget-s', 900)
  const slowBudgetS = args.number('slow-budget-s', 120)
  const chosen = targets.filter((t) => only === undefined || t.name === only)
  if (chosen.length === 0) throw new Error(`no target ${only}; targets: ${targets.map((t) => t.name).join(', ')}`)
  const rows: Row[] = []
  for (const t of chosen) {
    process.stderr.write(`fuzz ${t.name}: ${t.about}\n`)
    const row = await runChild(t.name, runs, (t.slow ? slowBudgetS : budgetS) * 1000, t.slow ?? false)
    rows.push(row)
    process.stderr.write(`  ${row.inputs} inputs in ${row.seconds.toFixed(1)} s, ${row.failures} failures${row.reports.length ? `\n  ${row.reports.join('\n  ')}` : ''}\n`)
  }
  const text = table(rows, runs)
  console.log(text)
  const failures = rows.filter((r) => r.failures > 0)
  if (args.flag('no-write') || only !== undefined) return void (process.exitCode = failures.length > 0 ? 1 : 0)
  const section = [
    SECTION,
    '',
    `fast-check properties in \`test/fuzz/targets/\`, ${runs.toLocaleString('en')} inputs per target requested, each target in its own process`,
    `(a hang is a process that outlives its budget by 2 min). Every input is time-boxed (250 ms for pure parsers, 1 s for the channel harnesses).`,
    `Inputs are near-valid (real records/datagrams/arguments with bit flips, overwrites, truncations, insertions, length-field lies) and raw random bytes.`,
    `Known open bugs (test/unit/fuzz-regressions.test.ts, \`todo\`) are kept out of the inputs so each run can find new ones.`,
    `Run ${new Date().toISOString().slice(0, 10)} on ${os.cpus()[0]?.model ?? 'unknown CPU'} (${os.cpus().length} cores, shared, nice 19), Node ${process.version}.`,
    '',
    text,
    '',
    ...failures.flatMap((r) => [`Failures of ${r.name}:`, '', ...r.reports.map((x) => `- \`${x.slice(0, 400)}\``), '']),
  ].join('\n')
  writeSection(section)
  process.exitCode = failures.length > 0 ? 1 : 0
}

main().catch((err) => { console.error(err); process.exitCode = 1 })
