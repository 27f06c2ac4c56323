#!/usr/bin/env node
// Runs every test file with node's built-in runner, one process per file: pure and loopback files
// two at a time, then the root/namespace files one at a time (they share the kernel's network state
// and the lab's timing is only accurate when nothing else competes for the CPU).
//
// A file that hangs must not hang CI: each file runs in its own process group under a time limit
// (GST_TEST_FILE_TIMEOUT_S, default 300 s) and the whole run under a budget (GST_TEST_BUDGET_S,
// default 720 s). Past either, the file's group gets SIGTERM (its ProcessGroup kills its daemons),
// then SIGKILL, and the file counts as failed with a line that names it. Processes a file leaves
// behind are named and killed, and so are its lab namespaces.
//
//   node scripts/run-tests.js                       every suite
//   node scripts/run-tests.js dist/test/unit/x.test.js dist/test/netns   only these files or directories
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'

const FILE_TIMEOUT_MS = seconds(process.env.GST_TEST_FILE_TIMEOUT_S, 300) * 1000
const BUDGET_MS = seconds(process.env.GST_TEST_BUDGET_S, 720) * 1000
// A test with no timeout of its own fails after this (node's default is never).
const TEST_TIMEOUT_MS = 180_000
const KILL_GRACE_MS = 5000
// A file's last SIGKILLs (labs, daemons) land just before it exits: let them take effect first.
const SETTLE_MS = 500
const startedAt = Date.now()

function seconds (text, fallback) {
  if (text === undefined || text === '') return fallback
  const n = Number(text)
  if (!Number.isFinite(n) || n <= 0) {
    console.error(`run-tests: ${text} is not a number of seconds`)
    process.exit(2)
  }
  return n
}

function testFiles (path) {
  if (!existsSync(path)) return []
  if (!statSync(path).isDirectory()) return [path]
  return readdirSync(path, { recursive: true }).map(String).filter((f) => f.endsWith('.test.js')).sort().map((f) => join(path, f))
}

const isNetns = (file) => file.split(/[\\/]/).includes('netns')
const requested = process.argv.slice(2)
const all = (requested.length > 0 ? requested : ['dist/test/unit', 'dist/test/integration', 'dist/test/netns']).flatMap(testFiles)
if (all.length === 0) {
  console.error(`run-tests: no test files under ${requested.join(' ') || 'dist/test'} (run npm run build first)`)
  process.exit(2)
}

/** Pids whose process group is `pgid` (Linux /proc), with their command names. */
function groupMembers (pgid) {
  const members = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // pid (comm) state ppid pgrp ...: comm may contain spaces, so split after the last ')'.
      const close = stat.lastIndexOf(')')
      const fields = stat.slice(close + 2).split(' ')
      // fields[0] is the state: a zombie (Z) or dying (X) process is already gone.
      if (Number(fields[2]) === pgid && !'ZX'.includes(fields[0])) members.push({ pid: Number(entry), name: stat.slice(stat.indexOf('(') + 1, close) })
    } catch {} // gone meanwhile
  }
  return members
}

function killGroup (pgid, signal) {
  try { process.kill(-pgid, signal) } catch {} // already gone
}

/** Namespaces a lab in process `pid` made (test/lab/lab.ts names them gl<pid in base 36>_N-c/-s). */
function labNamespaces (pid) {
  const prefix = `gl${pid.toString(36)}_`
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? ''
  return list.split('\n').map((l) => l.split(' ')[0]).filter((n) => n !== undefined && n.startsWith(prefix))
}

/** Runs one file to completion or to its time limit; resolves with its output and outcome. */
function runFile (file) {
  const limitMs = Math.min(FILE_TIMEOUT_MS, Math.max(0, BUDGET_MS - (Date.now() - startedAt)))
  const began = Date.now()
  const args = ['--test', '--test-reporter=tap', '--test-force-exit', `--test-timeout=${TEST_TIMEOUT_MS}`, file]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true })
  const chunks = []
  child.stdout.on('data', (b) => chunks.push(b))
  child.stderr.on('data', (b) => chunks.push(b))
  let timedOut = false
  const timer = setTimeout(() => {
    timedOut = true
    killGroup(child.pid, 'SIGTERM')
    setTimeout(() => killGroup(child.pid, 'SIGKILL'), KILL_GRACE_MS).unref()
  }, limitMs)
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => setTimeout(() => {
      clearTimeout(timer)
      // Whatever the file started and did not stop still holds its group id: name it, end it.
      const notes = []
      const left = groupMembers(child.pid)
      if (left.length > 0) {
        notes.push(`left running after the file ended (killed now): ${left.map((m) => `${m.name} (${m.pid})`).join(', ')}`)
        killGroup(child.pid, 'SIGKILL')
      }
      const namespaces = isNetns(file) ? labNamespaces(child.pid) : []
      if (namespaces.length > 0) {
        notes.push(`left network namespaces behind (deleted now): ${namespaces.join(', ')}`)
        for (const ns of namespaces) spawnSync('ip', ['netns', 'del', ns])
      }
      // Output pipes held open by an escaped grandchild must not hold us: read what is there.
      setTimeout(() => {
        child.stdout.destroy()
        child.stderr.destroy()
        resolve({ file, code, signal, timedOut, limitMs, ms: Date.now() - began, output: Buffer.concat(chunks).toString('utf8'), notes })
      }, 200)
    }, SETTLE_MS))
  })
}

/** The counts in a file's TAP summary (# tests N, # pass N ...). */
function counts (output) {
  const result = {}
  for (const key of ['tests', 'pass', 'fail', 'cancelled', 'skipped', 'todo']) {
    const m = new RegExp(`^# ${key} (\\d+)$`, 'm').exec(output)
    result[key] = m === null ? 0 : Number(m[1])
  }
  return result
}

const results = []
function report (r) {
  const c = counts(r.output)
  const failed = r.timedOut || r.code !== 0 || c.fail > 0 || c.cancelled > 0
  const status = r.timedOut ? `TIMED OUT after ${(r.limitMs / 1000).toFixed(0)} s` : failed ? `FAILED (exit ${r.code ?? r.signal})` : 'ok'
  process.stdout.write(`\n# ===== ${r.file}: ${status}, ${(r.ms / 1000).toFixed(1)} s =====\n${r.output}`)
  for (const note of r.notes) process.stdout.write(`# ${r.file}: ${note}\n`)
  results.push({ ...r, counts: c, failed, status })
}

async function pool (files, concurrency) {
  const queue = [...files]
  const worker = async () => {
    for (let file = queue.shift(); file !== undefined; file = queue.shift()) {
      if (Date.now() - startedAt >= BUDGET_MS) {
        results.push({ file, failed: true, status: 'NOT RUN (the run used up its budget)', ms: 0, notes: [], counts: counts('') })
        continue
      }
      report(await runFile(file))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
}

await pool(all.filter((f) => !isNetns(f)), 2)
await pool(all.filter(isNetns), 1)

const total = { tests: 0, pass: 0, fail: 0, cancelled: 0, skipped: 0, todo: 0 }
for (const r of results) for (const key of Object.keys(total)) total[key] += r.counts[key]
const slowest = [...results].sort((a, b) => b.ms - a.ms).slice(0, 5)
console.log(`\n# ===== ${results.length} files in ${((Date.now() - startedAt) / 1000).toFixed(0)} s: ` +
  Object.entries(total).map(([k, v]) => `${k} ${v}`).join(', '))
console.log(`# slowest: ${slowest.map((r) => `${r.file} ${(r.ms / 1000).toFixed(1)} s`).join(', ')}`)
const bad = results.filter((r) => r.failed)
for (const r of bad) console.log(`# ${r.status}: ${r.file}`)
for (const r of results) for (const note of r.notes) console.log(`# ${r.file}: ${note}`)
process.exitCode = bad.length > 0 ? 1 : 0
