// `gst set` / `gst path` against real gst-server and gst-client processes on loopback, through
// their control sockets in a temporary --control-dir: a rekey interval changed at runtime takes
// effect in the running session (no reconnection); on a two-path client, paths are set down and
// up and the scheduler changed without losing the session; what cannot apply exits 2, one line.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEchoServer, roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run, type Daemon } from '../helpers/processes.js'
import type { StatusReport } from '../../src/control/status.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-runtime-'))
const controlDir = join(dir, 'ctl')
const group = new ProcessGroup()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }
const echo = await startEchoServer()
after(async () => {
  await group.killAll()
  echo.server.close()
  rmSync(dir, { recursive: true, force: true })
})

async function gst (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await run(group, 'gst', process.execPath, [binPath('gst'), ...args], { env, cwd: dir, timeoutMs: 20_000 })
}

async function showJson (name: string): Promise<StatusReport> {
  const r = await gst(['show', name, '--json', '--control-dir', controlDir])
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as StatusReport
}

const keyFile = join(dir, 'rt.key')
let client: Daemon
let clientPort: number

test('gst set NAME rekey=0.5: the running session rotates its keys from then on, without reconnecting', async () => {
  assert.equal((await gst(['keygen', keyFile])).code, 0)
  const serverPort = await freePort()
  clientPort = await freePort()
  const server = group.spawnGst('gst-server', ['--name', 'rtsrv', '--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  client = group.spawnGst('gst-client', ['--name', 'rtcli', '--control-dir', controlDir, `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)

  const before = await showJson('rtcli')
  assert.equal(before.sessions[0]?.rekeys, 0)
  const set = await gst(['set', 'rtcli', 'rekey=0.5', '--control-dir', controlDir])
  assert.equal(set.code, 0, set.stderr)
  assert.match(set.stdout, /^rtcli: rekey=0\.5 s/)
  assert.equal(set.stdout.trim().split('\n').length, 1)

  const deadline = Date.now() + 15_000
  let rekeys = 0
  while (rekeys < 3) {
    if (Date.now() > deadline) assert.fail(`rekeys stayed at ${rekeys}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
    rekeys = (await showJson('rtcli')).sessions[0]?.rekeys ?? 0
  }
  const data = randomData(64 * 1024)
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  const after = await showJson('rtcli')
  assert.equal(after.sessions.length, 1)
  assert.equal(after.sessions[0]!.id, before.sessions[0]!.id, 'same session: nothing was dropped')
  assert.doesNotMatch(client.stderr, /lost|failed/)

  // Back to a long interval: rotations stop.
  assert.equal((await gst(['set', 'rtcli', 'rekey=600', '--control-dir', controlDir])).code, 0)
})

async function subflowsOf (name: string): Promise<Array<{ pathId: number, state: string, bytesSent: number }>> {
  const report = await showJson(name)
  return (report.sessions[0]?.subflows ?? []).map((f) => ({ pathId: f.pathId, state: f.state, bytesSent: f.bytesSent }))
}

async function until (what: string, check: () => Promise<boolean>): Promise<void> {
  for (const deadline = Date.now() + 20_000; !(await check());) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

test('gst path / gst set on a two-path pipe client: a path set down leaves the session and stays out until set up; scheduler=redundant sends on both', async () => {
  const serverPort = await freePort()
  const port = await freePort()
  const server = group.spawnGst('gst-server', ['--name', 'rtsrv2', '--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  const two = group.spawnGst('gst-client', ['--name', 'rtcli2', '--control-dir', controlDir, '--path', '127.0.0.1', '--path', '127.0.0.2', `127.0.0.1:${port}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await two.waitForLine(/session to 127\.0\.0\.1:\d+ via 127\.0\.0\.1 up/, 30_000)
  await until('two subflows', async () => (await subflowsOf('rtcli2')).length === 2)
  const sessionId = (await showJson('rtcli2')).sessions[0]!.id

  const down = await gst(['path', 'rtcli2', '1', 'set', 'down', '--control-dir', controlDir])
  assert.equal(down.code, 0, down.stderr)
  assert.match(down.stdout, /path 127\.0\.0\.2: down/)
  await until('path 1 to leave', async () => (await subflowsOf('rtcli2')).every((f) => f.pathId === 0))
  const last = await gst(['path', 'rtcli2', '0', 'set', 'down', '--control-dir', controlDir])
  assert.equal(last.code, 2)
  assert.match(last.stderr, /only path not set down/)
  const data = randomData(256 * 1024)
  assert.equal((await roundTrip(port, data)).sha256, sha256(data))
  await new Promise((resolve) => setTimeout(resolve, 1000)) // longer than the re-dial backoff
  assert.deepEqual((await subflowsOf('rtcli2')).map((f) => f.pathId), [0], 'a path set down is not re-dialled')

  const up = await gst(['path', 'rtcli2', '1', 'set', 'up', '--control-dir', controlDir])
  assert.equal(up.code, 0, up.stderr)
  await until('path 1 to rejoin', async () => (await subflowsOf('rtcli2')).length === 2)

  const set = await gst(['set', 'rtcli2', 'scheduler=redundant', '--control-dir', controlDir])
  assert.equal(set.code, 0, set.stderr)
  assert.match(set.stdout, /^rtcli2: scheduler=redundant/)
  const before = await subflowsOf('rtcli2')
  const bulk = randomData(2 * 1024 * 1024)
  assert.equal((await roundTrip(port, bulk)).sha256, sha256(bulk))
  const afterBulk = await subflowsOf('rtcli2')
  for (const f of afterBulk) {
    const sent = f.bytesSent - (before.find((b) => b.pathId === f.pathId)?.bytesSent ?? 0)
    assert.ok(sent >= bulk.length, `path ${f.pathId} carried every byte under redundant (${sent} of ${bulk.length})`)
  }
  assert.equal((await showJson('rtcli2')).sessions[0]!.id, sessionId, 'the same session throughout')

  const unknown = await gst(['path', 'rtcli2', '9', 'set', 'down', '--control-dir', controlDir])
  assert.equal(unknown.code, 2)
  assert.match(unknown.stderr, /no path 9/)
  const onServer = await gst(['path', 'rtsrv2', '0', 'set', 'down', '--control-dir', controlDir])
  assert.equal(onServer.code, 2)
  assert.match(onServer.stderr, /paths belong to the client/)
  const rekeyOnServer = await gst(['set', 'rtsrv2', 'rekey=1', '--control-dir', controlDir])
  assert.equal(rekeyOnServer.code, 2)
  assert.match(rekeyOnServer.stderr, /started by the client/)
  const schedOnServer = await gst(['set', 'rtsrv2', 'scheduler=weighted', '--control-dir', controlDir])
  assert.equal(schedOnServer.code, 0, schedOnServer.stderr)
})

test('gst set with a bad value or an unknown name: exit 2, one line', async () => {
  const bad = await gst(['set', 'rtcli', 'rekey=-1', '--control-dir', controlDir])
  assert.equal(bad.code, 2)
  assert.match(bad.stderr, /rekey takes a number of seconds/)
  const none = await gst(['set', 'nosuch', 'rekey=1', '--control-dir', controlDir])
  assert.equal(none.code, 2)
  assert.match(none.stderr, /no gst instance named nosuch/)
  assert.equal(none.stderr.trim().split('\n').length, 1)
})
