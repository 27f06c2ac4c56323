#!/usr/bin/env node
// Runs every test suite with node's built-in runner: pure and loopback suites in parallel,
// then the root/namespace suites one file at a time (they share the kernel's network state
// and the lab's timing is only accurate when nothing else competes for the CPU).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync } from 'node:fs'

const hasTests = (dir) => existsSync(dir) && readdirSync(dir, { recursive: true }).some((f) => String(f).endsWith('.test.js'))
const run = (args) => spawnSync(process.execPath, ['--test', ...args], { stdio: 'inherit' }).status ?? 1

// Every suite runs even when an earlier one failed, so one report shows everything.
const statuses = []
const parallel = ['dist/test/unit', 'dist/test/integration'].filter(hasTests)
if (parallel.length) statuses.push(run(['--test-concurrency=2', ...parallel]))
if (hasTests('dist/test/netns')) statuses.push(run(['--test-concurrency=1', 'dist/test/netns']))
process.exitCode = statuses.some((s) => s !== 0) ? 1 : 0
