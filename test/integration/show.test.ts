// `gst show` against real gst-server and gst-client processes on loopback, through their control
// sockets in a temporary --control-dir: JSON and table output, a second instance with a taken name,
// socket permissions, --watch, and cleanup on SIGTERM.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { existsSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEchoServer, roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run, type Daemon } from '../helpers/processes.js'
import { reportUntil, showJson as showJsonOf } from '../helpers/show.js'
import type { StatusReport } from '../../src/control/status.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-show-'))
const controlDir = join(dir, 'ctl')
const group = new ProcessGroup()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }
const echo = await startEchoServer()
after(async () => {
  await group.killAll()
  echo.server.close()
  rmSync(dir, { recursive: true, force: true })
})

async function gst (args: string[], timeoutMs = 20_000): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await run(group, 'gst', process.execPath, [binPath('gst'), ...args], { env, cwd: dir, timeoutMs })
}

const showJson = async (name: string): Promise<StatusReport> => await showJsonOf(group, controlDir, name, { env, cwd: dir })
const showUntil = async (name: string, ok: (r: StatusReport) => boolean, what: string, timeoutMs = 15_000): Promise<StatusReport> =>
  await reportUntil(async () => await showJson(name), ok, what, timeoutMs)

const keyFile = join(dir, 'show.key')
let server: Daemon
let client: Daemon
let serverPort: number
let clientPort: number
/** A stream held open so `show` has an active one. */
let held: net.Socket | undefined
const CHUNK = 256 * 1024

test('gst-server and gst-client with --name start their control sockets (0600 in a 0700 directory)', async () => {
  const k = await gst(['keygen', keyFile])
  assert.equal(k.code, 0, k.stderr)
  serverPort = await freePort()
  clientPort = await freePort()
  server = group.spawnGst('gst-server', ['--name', 'srv', '--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  client = group.spawnGst('gst-client', ['--name', 'cli', '--control-dir', controlDir, '--rekey', '0.5', `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  assert.match(server.stderr, /control socket .*srv\.sock \(gst show srv\)/)
  assert.equal(statSync(controlDir).mode & 0o777, 0o700)
  for (const name of ['srv', 'cli']) {
    const st = statSync(join(controlDir, `${name}.sock`))
    assert.ok(st.isSocket())
    assert.equal(st.mode & 0o777, 0o600, `${name}.sock is owner-only`)
  }
})

test('gst show NAME --json: sessions, bytes, rekeys and streams after data went through', async () => {
  const data = randomData(CHUNK)
  for (let i = 0; i < 3; i++) {
    const r = await roundTrip(clientPort, data)
    assert.equal(r.sha256, sha256(data))
  }
  held = net.connect({ port: clientPort, host: '127.0.0.1' })
  held.on('error', () => {})
  await new Promise<void>((resolve) => held!.once('connect', () => resolve()))
  held.write('hello')
  await new Promise<void>((resolve) => held!.once('data', () => resolve()))

  const c = await showUntil('cli', (r) => (r.sessions[0]?.rekeys ?? 0) >= 2 && r.streams?.active === 1, 'two key rotations and the held stream')
  assert.equal(c.version, 1)
  assert.equal(c.instance.name, 'cli')
  assert.equal(c.instance.mode, 'pipe-client')
  assert.equal(c.instance.pid, client.child.pid)
  assert.equal(c.instance.listen, `127.0.0.1:${clientPort}`)
  assert.equal(c.instance.server, `127.0.0.1:${serverPort}`)
  assert.equal(c.instance.target, null)
  assert.ok(c.instance.uptimeS > 0)
  assert.equal(c.sessions.length, 1)
  const cs = c.sessions[0]!
  assert.equal(cs.state, 'up')
  assert.equal(cs.peer, `127.0.0.1:${serverPort}`)
  assert.ok(cs.bytesOut >= 3 * CHUNK, `client sent ${cs.bytesOut}`)
  assert.ok(cs.bytesIn >= 3 * CHUNK, `client received ${cs.bytesIn}`)
  assert.ok(typeof cs.rttMs === 'number' && cs.rttMs >= 0)
  assert.deepEqual(cs.streams, { active: 1, total: 4 })
  assert.deepEqual(c.streams, { active: 1, total: 4, refused: 0 })
  assert.equal(cs.paths?.length, 1)
  assert.equal(cs.paths![0]!.remote, `127.0.0.1:${serverPort}`)
  assert.equal(c.errors.decrypt.count, 0)
  assert.equal(c.errors.handshake.count, 0)

  const s = await showJson('srv')
  assert.equal(s.instance.mode, 'pipe-server')
  assert.equal(s.instance.target, `127.0.0.1:${echo.port}`)
  assert.equal(s.sessions.length, 1)
  const ss = s.sessions[0]!
  assert.equal(ss.peer, cs.paths![0]!.local, 'the server sees the client\'s end of the connection')
  assert.ok(ss.bytesIn >= 3 * CHUNK && ss.bytesOut >= 3 * CHUNK)
  assert.ok(ss.rekeys >= 2, `server counted ${ss.rekeys} rekeys`)
  assert.deepEqual(s.streams, { active: 1, total: 4, refused: 0 })
})

test('gst show (no NAME): every instance as tables; --json gives an array', async () => {
  const r = await gst(['show', '--control-dir', controlDir])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.match(r.stdout, /^cli \(pipe-client\) · pid \d+ · up \d+s · listen 127\.0\.0\.1:\d+ · server 127\.0\.0\.1:\d+$/m)
  assert.match(r.stdout, /^srv \(pipe-server\) · pid \d+ · up \d+s · listen 127\.0\.0\.1:\d+ · target 127\.0\.0\.1:\d+$/m)
  assert.match(r.stdout, /^SESSION +PEER +STATE +FOR +RTT +REKEYS +STREAMS +IN +OUT$/m)
  assert.match(r.stdout, /^1 +127\.0\.0\.1:\d+ +up +\d+s +[\d.]+ ms +\d+ +1\/4 +[\d.]+ (KiB|MiB) +[\d.]+ (KiB|MiB)$/m)
  assert.match(r.stdout, /^streams +1 active, 4 total, 0 refused$/m)
  assert.match(r.stdout, /^errors +none$/m)
  const all = await gst(['show', '--json', '--control-dir', controlDir])
  assert.equal(all.code, 0, all.stderr)
  const reports = JSON.parse(all.stdout) as StatusReport[]
  assert.deepEqual(reports.map((x) => x.instance.name), ['cli', 'srv'])
})

test('gst show --watch redraws in place with per-path sparklines until interrupted', async () => {
  const watcher = group.spawnGst('gst', ['show', 'cli', '--watch', '--interval', '0.2', '--control-dir', controlDir], { env, cwd: dir })
  // traffic while it watches
  await roundTrip(clientPort, randomData(CHUNK))
  const deadline = Date.now() + 15_000
  while ((watcher.stdout.match(/\x1b\[H\x1b\[2J/g) ?? []).length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  const exit = await watcher.stop('SIGINT')
  assert.equal(exit.code, 0, watcher.stderr)
  const screens = watcher.stdout.split('\x1b[H\x1b[2J').filter((s) => s !== '')
  assert.ok(screens.length >= 4, `${screens.length} screens`)
  const last = screens[screens.length - 1]!
  assert.match(last, /^PATH +LOCAL +REMOTE +STATE +IN NOW +OUT NOW +LAST 1m 00s +PEAK$/m)
  assert.match(last, /^1\/0 +127\.0\.0\.1:\d+ +127\.0\.0\.1:\d+ +up +\S+ \S+ +\S+ \S+ +[▁▂▃▄▅▆▇█ ]+ +\S+ \S+$/mu)
  assert.match(last, /[▁▂▃▄▅▆▇█]/u)
  assert.match(last, /Ctrl-C to quit/)
})

test('a second instance with a name in use refuses to start, in one line', async () => {
  const port = await freePort()
  const r = await run(group, 'gst-client', process.execPath, [binPath('gst-client'), '--name', 'cli', '--control-dir', controlDir, `127.0.0.1:${port}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  assert.notEqual(r.code, 0)
  const lines = r.stderr.trim().split('\n')
  assert.equal(lines.length, 1, r.stderr)
  assert.match(lines[0]!, new RegExp(`^gst-client: a gst instance named "cli" is already running \\(pipe-client, pid ${client.child.pid}\\)`))
  // it did not take the port, and the first one still answers
  await new Promise<void>((resolve, reject) => {
    const probe = net.createServer()
    probe.once('error', reject)
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve()))
  })
  assert.equal((await showJson('cli')).instance.pid, client.child.pid)
})

test('gst show for an unknown name exits non-zero with one line', async () => {
  const r = await gst(['show', 'nosuch', '--control-dir', controlDir])
  assert.equal(r.code, 1)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, `gst: no gst instance named nosuch (no socket at ${join(controlDir, 'nosuch.sock')})\n`)
  const bad = await gst(['show', '../x', '--control-dir', controlDir])
  assert.equal(bad.code, 2)
})

test('a socket left by a killed instance is reported as stale by name, skipped and removed by gst show', async () => {
  const port = await freePort()
  const doomed = group.spawnGst('gst-client', ['--name', 'doomed', '--control-dir', controlDir, `127.0.0.1:${port}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await doomed.waitForLine(/control socket .*doomed\.sock/, 30_000)
  await doomed.stop('SIGKILL')
  assert.ok(existsSync(join(controlDir, 'doomed.sock')), 'SIGKILL leaves the socket behind')
  const named = await gst(['show', 'doomed', '--control-dir', controlDir])
  assert.equal(named.code, 1)
  assert.match(named.stderr, /^gst: no gst instance named doomed \(stale socket at .*doomed\.sock: nothing listens on it\)\n$/)
  const r = await gst(['show', '--control-dir', controlDir])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  assert.doesNotMatch(r.stdout, /doomed/)
  assert.equal(existsSync(join(controlDir, 'doomed.sock')), false)
})

test('SIGTERM removes the sockets; then gst show finds nothing', async () => {
  held?.destroy()
  const [ce, se] = await Promise.all([client.stop('SIGTERM', 8000), server.stop('SIGTERM', 8000)])
  for (const e of [ce, se]) assert.ok(e.code === 0 || e.signal === 'SIGTERM', JSON.stringify(e))
  assert.equal(existsSync(join(controlDir, 'cli.sock')), false)
  assert.equal(existsSync(join(controlDir, 'srv.sock')), false)
  assert.deepEqual(readdirSync(controlDir), [])
  const r = await gst(['show', '--control-dir', controlDir])
  assert.equal(r.code, 1)
  assert.equal(r.stderr, `gst: no gst instance running (no live control socket in ${controlDir})\n`)
})
