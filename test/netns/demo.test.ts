// `npm start` (cmd/demo.ts): the pipe demo on loopback, then as root the VPN demo (cmd/demo-vpn.ts:
// ttt over two emulated links, l2 cut and restored under a TCP flow). What it prints must be what
// happened: every file and the flow's bytes checked, the cut visible in the per-second rows.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { ProcessGroup, run } from '../helpers/processes.js'
import { tttLabSkip } from './helpers/scope.js'

const demoPath = fileURLToPath(new URL('../../cmd/demo.js', import.meta.url))
const group = new ProcessGroup()
// SIGTERM first: the demo's lab takes its namespaces down on the way out.
after(async () => await Promise.all(group.daemons.map(async (d) => await d.stop('SIGTERM', 5000))))

test('npm start: the pipe demo, then the VPN demo over two lab links with l2 cut and restored under load', { skip: tttLabSkip(), timeout: 240_000 }, async () => {
  const r = await run(group, 'demo', process.execPath, [demoPath], { timeoutMs: 220_000 })
  assert.equal(r.code, 0, `demo exited ${JSON.stringify(r)}`)
  assert.match(r.stdout, /all files arrived intact through the pipe/)
  assert.match(r.stdout, /gst demo: ttt bonding two emulated links/)
  assert.match(r.stdout, /every byte arrived, in order \(SHA-256 of both ends equal\)/)
  // The flow's sender uses CUBIC where the kernel has it (cmd/demo-vpn.ts says why), and says which.
  const cc = /the flow's congestion control: (\S+)/.exec(r.stdout)?.[1]
  const available = readFileSync('/proc/sys/net/ipv4/tcp_available_congestion_control', 'utf8').split(/\s+/)
  assert.ok(cc !== undefined && (available.includes('cubic') ? cc === 'cubic' : available.includes(cc)), r.stdout)
  // Per-second rows: "  12 s   18.8 Mbit/s   0.0 Mbit/s   29.0 ms   <- l2 cut".
  const rows = [...r.stdout.matchAll(/^\s+(\d+) s\s+([\d.]+) Mbit\/s\s+([\d.]+) Mbit\/s.*$/gm)].map((m) => ({ s: Number(m[1]), l1: Number(m[2]), l2: Number(m[3]), line: m[0] }))
  assert.equal(rows.length, 20, r.stdout)
  const cutRow = rows.findIndex((row) => row.line.includes('<- l2 cut'))
  const restoredRow = rows.findIndex((row) => row.line.includes('<- l2 restored'))
  assert.ok(cutRow > 0 && restoredRow > cutRow, r.stdout)
  // While l2 is dead the flow goes on over l1, and l2 carries nothing; before the cut both carry.
  for (const row of rows.slice(cutRow + 1, restoredRow)) {
    assert.ok(row.l1 > 1 && row.l2 < 0.5, `while l2 is cut: ${row.line}`)
  }
  assert.ok(rows.slice(2, cutRow).some((row) => row.l2 > 1), `l2 never carried data before the cut:\n${r.stdout}`)
  assert.match(r.stdout, /l2 restored: +carrying data again after \d+ ms/)
  assert.match(r.stdout, /PATH +LOCAL +REMOTE +STATE/)   // the client's `ttt show`
})

test('npm start with an unknown demo name: exit 2 and what to give instead', { timeout: 30_000 }, async () => {
  const r = await run(group, 'demo', process.execPath, [demoPath, 'vnp'])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /unknown demo vnp: give pipe, vpn, or nothing for both/)
})
