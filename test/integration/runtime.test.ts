// `gst set` / `gst path` against real gst-server and gst-client processes on loopback, through
// their control sockets in a temporary --control-dir: a rekey interval changed at runtime takes
// effect in the running session (no reconnection), and the pipe refuses scheduler and path
// changes with one clear line and exit status 2.
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

test('gst set NAME scheduler=auto on a pipe: exit 2 and one line saying the pipe has one path', async () => {
  const r = await gst(['set', 'rtcli', 'scheduler=auto', '--control-dir', controlDir])
  assert.equal(r.code, 2)
  assert.match(r.stderr, /the pipe has one path per session/)
  assert.equal(r.stderr.trim().split('\n').length, 1)
  const p = await gst(['path', 'rtcli', '0', 'set', 'down', '--control-dir', controlDir])
  assert.equal(p.code, 2)
  assert.match(p.stderr, /the pipe has one path per session/)
  const s = await gst(['set', 'rtsrv', 'rekey=1', '--control-dir', controlDir])
  assert.equal(s.code, 2)
  assert.match(s.stderr, /started by the client/)
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
