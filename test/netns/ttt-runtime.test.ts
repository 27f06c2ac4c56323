// Runtime changes of a running VPN, end to end: ttt server and client in the lab over two links,
// one iperf3 TCP flow through the tunnel the whole time, and while it runs `ttt path` and
// `ttt set` through the client's control socket. Each change is checked on the per-path byte
// counters of `ttt show --json` over a window after it (down: the other path carries everything;
// up: both again; backup: idle while the primary is up; scheduler=redundant: both paths carry
// every packet), `rekey=2` on the session's rekey counter, and the flow survives all of it.
// The ttt logs are JSON (--log-format json) and are checked line by line, and for the key.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { Lab, labUnavailableReason } from '../lab/lab.js'
import { NsProcess, keygen, startTttServer, startTttClient, iperfServer, iperfClient, sleep, tttPath, type IperfResult } from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import type { PathStatus, StatusReport } from '../../src/control/status.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'

const controlDir = useTestControlDir()
const skip = labUnavailableReason() ??
  (spawnSync('iperf3', ['--version']).status === 0 ? undefined : 'iperf3 is not installed') ??
  (existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`)

const PORT = 5000
const SERVER_INNER = '10.9.0.1'
/** Seconds each change is given before its effect is measured, and the length of the measurement. */
const SETTLE_MS = 700
const WINDOW_MS = 1500
/** Long enough for every step below, with room for a loaded machine. */
const FLOW_SECONDS = 26

function ttt (args: string[]): { code: number | null, stdout: string, stderr: string } {
  const r = spawnSync(process.execPath, [tttPath, ...args, '--control-dir', controlDir], { encoding: 'utf8', timeout: 20_000 })
  return { code: r.status, stdout: r.stdout, stderr: r.stderr }
}

/** The status `gst show NAME --json` prints, read straight from the control socket (no process start per sample). */
async function show (name: string): Promise<StatusReport> {
  return await requestControl(socketPath(controlDir, name), { cmd: 'status' }) as StatusReport
}

function paths (report: StatusReport): PathStatus[] {
  return [...(report.sessions[0]?.paths ?? [])].sort((a, b) => Number(a.id) - Number(b.id))
}

/** Bytes each client path sent during WINDOW_MS (the flow goes client → server). */
async function sentPerPath (name: string): Promise<{ bytes: number[], states: string[] }> {
  const before = paths(await show(name))
  await sleep(WINDOW_MS)
  const after = paths(await show(name))
  return { bytes: after.map((p, i) => p.bytesOut - (before[i]?.bytesOut ?? 0)), states: after.map((p) => p.state) }
}

function change (args: string[], expect: RegExp): void {
  const r = ttt(args)
  assert.equal(r.code, 0, `ttt ${args.join(' ')}: ${r.stderr}`)
  assert.match(r.stdout, expect)
}

async function until (what: string, ok: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

const mb = (n: number): string => `${(n / 1e6).toFixed(2)} MB`

/** Every line a JSON log object; no form of the key anywhere. */
function checkLog (p: NsProcess, keyBase64: string): void {
  for (const line of p.lines) {
    const entry = JSON.parse(line) as Record<string, unknown>
    assert.deepEqual(Object.keys(entry).sort(), ['level', 'msg', 'time'], `${p.name}: ${line}`)
  }
  const key = Buffer.from(keyBase64, 'base64')
  for (const form of [keyBase64, key.toString('hex'), key.toString('base64url')]) assert.equal(p.text.includes(form), false, `${p.name} logged key material`)
}

test('ttt path/set on a running tunnel: down, up, backup, scheduler=redundant, rekey=2, under one TCP flow', { skip, timeout: 90_000 }, async (t: TestContext) => {
  const procs: NsProcess[] = []
  let lab: Lab | undefined
  t.after(async () => {
    for (const p of procs) p.kill()
    await Promise.all(procs.map(async (p) => await p.exited))
    await lab?.down()
  })
  // Unequal links, so that `auto` splits the flow unevenly and `redundant` (the same bytes on both) is told apart.
  lab = await Lab.up({ links: [{ delayMs: 5, rateMbit: 20, queuePkts: 100 }, { delayMs: 5, rateMbit: 8, queuePkts: 100 }] })
  const key = keygen()
  const json = ['--log-format', 'json', '--log-level', 'debug']
  const server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key, extra: [...json, '--name', 'rt-srv'] })
  procs.push(server)
  await server.waitFor(/ttt server listening/, 20_000)
  const client = startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0), lab.clientAddress(1)], { key, extra: [...json, '--name', 'rt-cli'] })
  procs.push(client)
  await client.waitFor(/session with .* up/, 20_000)
  await until('both client paths up', async () => paths(await show('rt-cli')).filter((p) => p.state === 'up').length === 2)
  procs.push(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const flow: Promise<IperfResult> = iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', String(FLOW_SECONDS), '--get-server-output'])
  const flowStarted = Date.now()
  await sleep(1500)

  const both = await sentPerPath('rt-cli')
  t.diagnostic(`auto, both up: ${both.bytes.map(mb).join(' / ')}`)
  assert.ok(both.bytes[0]! > 0 && both.bytes[1]! > 0, 'both paths carry the flow at first')
  assert.ok(both.bytes[1]! < both.bytes[0]! * 0.8, `auto gives the 8 Mbit/s path less than the 20 Mbit/s one (${both.bytes[1]} against ${both.bytes[0]})`)

  change(['path', 'rt-cli', '0', 'set', 'down'], /path .*: down/)
  await sleep(SETTLE_MS)
  const down = await sentPerPath('rt-cli')
  t.diagnostic(`path 0 down: ${down.bytes.map(mb).join(' / ')}, states ${down.states.join(' / ')}`)
  assert.equal(down.states[0], 'down')
  assert.ok(down.bytes[0]! < down.bytes[1]! * 0.02, `path 0 is out of use (${down.bytes[0]} bytes against ${down.bytes[1]})`)
  // Path 1 (8 Mbit/s) now carries the whole flow: at least half its link rate over the window.
  assert.ok(down.bytes[1]! > (8e6 / 8) * (WINDOW_MS / 1000) * 0.5, `path 1 carries the flow alone (${down.bytes[1]} bytes)`)

  change(['path', 'rt-cli', '0', 'set', 'up'], /path .*: up/)
  await until('path 0 up again', async () => paths(await show('rt-cli'))[0]?.state === 'up')
  await sleep(SETTLE_MS)
  const up = await sentPerPath('rt-cli')
  t.diagnostic(`path 0 up again: ${up.bytes.map(mb).join(' / ')}`)
  const upTotal = up.bytes[0]! + up.bytes[1]!
  assert.ok(up.bytes[0]! > upTotal * 0.15, `path 0 carries its share again (${up.bytes[0]} of ${upTotal})`)

  change(['path', 'rt-cli', '1', 'set', 'backup'], /path .*: backup/)
  await sleep(SETTLE_MS)
  const backup = await sentPerPath('rt-cli')
  t.diagnostic(`path 1 backup: ${backup.bytes.map(mb).join(' / ')}, states ${backup.states.join(' / ')}`)
  assert.equal(backup.states[1], 'backup')
  assert.ok(backup.bytes[1]! < backup.bytes[0]! * 0.02, `the backup path stays idle while the primary is up (${backup.bytes[1]} bytes against ${backup.bytes[0]})`)
  change(['path', 'rt-cli', '1', 'set', 'primary'], /path .*: primary/)

  const rekeysBefore = (await show('rt-cli')).sessions[0]!.rekeys
  change(['set', 'rt-cli', 'scheduler=redundant', 'rekey=2'], /scheduler=redundant/)
  await sleep(SETTLE_MS)
  const redundant = await sentPerPath('rt-cli')
  t.diagnostic(`scheduler=redundant: ${redundant.bytes.map(mb).join(' / ')}`)
  const [r0, r1] = redundant.bytes as [number, number]
  assert.ok(Math.min(r0, r1) > Math.max(r0, r1) * 0.8, `both paths carry every packet (${r0} and ${r1} bytes)`)
  await until('two rotations at the new 2 s interval', async () => (await show('rt-cli')).sessions[0]!.rekeys >= rekeysBefore + 2, 12_000)
  t.diagnostic(`rekeys ${rekeysBefore} -> ${(await show('rt-cli')).sessions[0]!.rekeys} after rekey=2`)
  // The same through the CLI operators use.
  const shown = JSON.parse(ttt(['show', 'rt-cli', '--json']).stdout) as StatusReport
  assert.equal(shown.sessions[0]!.state, 'up')
  assert.equal(typeof shown.sessions[0]!.capHits?.reorder, 'number', 'the reorder window cap count is shown')

  t.diagnostic(`all changes made ${((Date.now() - flowStarted) / 1000).toFixed(1)} s into the ${FLOW_SECONDS} s flow`)
  assert.ok(Date.now() - flowStarted < FLOW_SECONDS * 1000, 'every change was measured while the flow ran')
  const r = await flow
  const received = r.receiverIntervals.length > 0 ? r.receiverIntervals : r.intervals
  t.diagnostic(`iperf3: ${(r.receivedBps / 1e6).toFixed(1)} Mbit/s over ${r.seconds.toFixed(0)} s; slowest second ${(Math.min(...received.map((i) => i.bitsPerSecond)) / 1e6).toFixed(2)} Mbit/s`)
  assert.ok(r.seconds >= FLOW_SECONDS - 1, 'the flow ran to its end')
  for (const i of received) assert.ok(i.bitsPerSecond > 0, `the flow moved data in every second (not in ${i.start.toFixed(0)}-${i.end.toFixed(0)} s)`)
  await server.stop()
  await client.stop()
  checkLog(server, key)
  checkLog(client, key)
})
