// --user/--group through the real pipe binaries, started as root: the processes really run as
// nobody afterwards (/proc/PID/status), keep serving on what they bound as root (a LISTEN port
// below 1024, the metrics listener, the control socket that root's `gst show` still reads), run
// hooks as nobody, and every way of asking for the impossible is refused with one line, exit 2.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEchoServer, roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run } from '../helpers/processes.js'
import { parsePrometheusText } from '../helpers/prom-text.js'
import type { StatusReport } from '../../src/control/status.js'

const nobody = spawnSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).stdout?.split(':') ?? []
const skip = process.getuid?.() !== 0 ? 'needs root (it switches users)' : nobody.length < 7 ? 'no user "nobody"' : false
const NOBODY_UID = Number(nobody[2])
const NOBODY_GID = Number(nobody[3])

const dir = mkdtempSync(join(tmpdir(), 'gst-priv-'))
// nobody must reach a hook script and the directory it writes into (mkdtemp makes 0700).
chmodSync(dir, 0o711)
const controlDir = join(dir, 'ctl')
const hookOut = join(dir, 'hook-out')
const group = new ProcessGroup()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }
const echo = await startEchoServer()
const keyFile = join(dir, 'priv.key')
after(async () => {
  await group.killAll()
  echo.server.close()
  rmSync(dir, { recursive: true, force: true })
})

async function gst (args: string[], options: { uid?: number, gid?: number } = {}): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await run(group, 'gst', process.execPath, [binPath('gst'), ...args], { env, cwd: options.uid !== undefined ? '/' : dir, ...options })
}

/** The Uid:, Gid:, Groups: and Cap*: lines of /proc/PID/status as arrays of fields. */
function procStatus (pid: number): Record<string, string[]> {
  const out: Record<string, string[]> = {}
  for (const line of readFileSync(`/proc/${pid}/status`, 'utf8').split('\n')) {
    const m = /^(Uid|Gid|Groups|CapInh|CapPrm|CapEff|CapAmb):\s*(.*)$/.exec(line)
    if (m) out[m[1]!] = m[2]!.trim().split(/\s+/).filter((f) => f !== '')
  }
  return out
}

/** A free loopback TCP port below 1024 (binding it needs root: proves the bind came before the drop). */
async function freeLowPort (): Promise<number> {
  for (let port = 900 + Math.floor(Math.random() * 100); port < 1024; port++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.createServer()
      s.once('error', () => resolve(false))
      s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)))
    })
    if (ok) return port
  }
  throw new Error('no free port between 900 and 1023')
}

test('key', { skip }, async () => {
  const k = await gst(['keygen', keyFile])
  assert.equal(k.code, 0, k.stderr)
})

test('--user nobody: gst-server and gst-client drop root after binding, and still carry traffic, metrics, show and hooks', { skip, timeout: 90_000 }, async () => {
  const hook = join(dir, 'on-event')
  mkdirSync(hookOut, { mode: 0o777 })
  chmodSync(hookOut, 0o777)
  writeFileSync(hook, `#!/bin/sh\nid -u > ${hookOut}/"$GST_EVENT"\n`, { mode: 0o755 })
  const serverPort = await freeLowPort()
  const clientPort = await freePort()
  const metricsPort = await freePort()
  const server = group.spawnGst('gst-server', ['--user', 'nobody', '--name', 'psrv', '--control-dir', controlDir, '--metrics', `127.0.0.1:${metricsPort}`,
    `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/control socket .*psrv\.sock/, 30_000)
  const client = group.spawnGst('gst-client', ['--user', 'nobody', '--group', 'nogroup', '--name', 'pcli', '--control-dir', controlDir, '--on-event', hook,
    `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  for (const d of [server, client]) {
    assert.match(d.stderr, /privileges: now running as nobody:\S+ \(uid \d+, gid \d+\), no capabilities/)
    const status = procStatus(d.child.pid!)
    assert.deepEqual(status.Uid, Array(4).fill(String(NOBODY_UID)), `${d.name} real, effective, saved and fs uid are nobody's`)
    assert.deepEqual(status.Gid, Array(4).fill(String(NOBODY_GID)), `${d.name} gids are nobody's`)
    assert.ok(!(status.Groups ?? []).includes('0'), `${d.name} kept no root group: ${String(status.Groups)}`)
    for (const set of ['CapPrm', 'CapEff', 'CapInh', 'CapAmb']) assert.equal(BigInt('0x' + status[set]![0]!), 0n, `${d.name} ${set} is empty`)
  }

  const data = randomData(512 * 1024)
  const r = await roundTrip(clientPort, data)
  assert.equal(r.sha256, sha256(data), 'data crosses the pipe between the two unprivileged processes')

  const metrics = parsePrometheusText(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text())
  assert.ok(metrics.samples.some((s) => s.name === 'gst_sessions' && s.labels.state === 'up' && s.value === 1), 'the metrics listener bound as root still answers')

  for (const name of ['psrv', 'pcli']) {
    const socket = statSync(join(controlDir, `${name}.sock`))
    assert.equal(socket.uid, NOBODY_UID, `${name}.sock belongs to the user the instance became`)
    const show = await gst(['show', name, '--json', '--control-dir', controlDir])
    assert.equal(show.code, 0, show.stderr)
    const report = JSON.parse(show.stdout) as StatusReport
    assert.equal(report.instance.pid, name === 'psrv' ? server.child.pid : client.child.pid)
    assert.equal(report.sessions[0]?.state, 'up')
  }

  // The hook ran as nobody, with no way back to root.
  const deadline = Date.now() + 10_000
  while (!existsSync(join(hookOut, 'session-up')) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
  assert.equal(readFileSync(join(hookOut, 'session-up'), 'utf8').trim(), String(NOBODY_UID), 'the session-up hook ran as nobody')

  // A clean stop; the root-owned control directory keeps the sockets nobody could not remove,
  // and the next `gst show` clears them as it does for any instance that is gone.
  assert.equal((await server.stop()).code, 0)
  assert.equal((await client.stop()).code, 0)
  const after = await gst(['show', '--control-dir', controlDir])
  assert.equal(after.code, 1)
  assert.match(after.stderr, /no gst instance running/)
  assert.deepEqual(readdirSync(controlDir), [])
})

test('--user refusals: unknown user or group, root, --group alone, not root, a hook the user cannot run', { skip, timeout: 90_000 }, async () => {
  const port = await freePort()
  const args = (extra: string[]): string[] => ['--control-dir', controlDir, ...extra, `127.0.0.1:${port}`, `127.0.0.1:${echo.port}`, `@${keyFile}`]
  const cases: Array<{ extra: string[], message: RegExp, uid?: number }> = [
    { extra: ['--user', 'no-such-user-gst'], message: /^gst-server: --user no-such-user-gst: no such user\n$/ },
    { extra: ['--user', 'nobody', '--group', 'no-such-group-gst'], message: /^gst-server: --group no-such-group-gst: no such group\n$/ },
    { extra: ['--user', 'root'], message: /^gst-server: --user root is root \(uid 0\): name an unprivileged user such as nobody\n$/ },
    { extra: ['--group', 'nogroup'], message: /^gst-server: --group needs --user/ },
    { extra: ['--user', 'nobody'], uid: NOBODY_UID, message: /^gst-server: --user nobody needs root: gst-server runs as uid \d+, which cannot switch users/ },
  ]
  for (const c of cases) {
    const r = await run(group, 'gst-server', process.execPath, [binPath('gst-server'), ...args(c.extra)],
      { env, cwd: c.uid !== undefined ? '/' : dir, ...(c.uid !== undefined ? { uid: c.uid, gid: NOBODY_GID } : {}) })
    assert.equal(r.code, 2, `${c.extra.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, c.message)
  }

  // The same option from a config file.
  const config = join(dir, 'bad-user.toml')
  writeFileSync(config, 'user = "no-such-user-gst"\n')
  const fromFile = await run(group, 'gst-server', process.execPath, [binPath('gst-server'), '--config', config, ...args([])], { env, cwd: dir })
  assert.equal(fromFile.code, 2)
  assert.equal(fromFile.stderr, 'gst-server: --user no-such-user-gst: no such user\n')

  // A hook only root may run (0700, root's): refused once the switch has happened, nothing left running.
  const rootOnly = join(dir, 'root-only-hook')
  writeFileSync(rootOnly, '#!/bin/sh\nexit 0\n', { mode: 0o700 })
  const hook = await run(group, 'gst-server', process.execPath, [binPath('gst-server'), ...args(['--user', 'nobody', '--name', 'hooked', '--on-event', rootOnly])], { env, cwd: dir })
  assert.equal(hook.code, 2, hook.stderr)
  assert.match(hook.stderr, new RegExp(`--on-event ${rootOnly}: not executable by user nobody`))
  assert.equal(await new Promise<boolean>((resolve) => {
    const s = net.connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  }), false, 'the listening port was closed on the way out')
})
