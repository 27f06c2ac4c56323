// The pipe's per-session cap on bytes held for slow readers, through the real binaries: a target
// that stops reading some streams pushes one session on gst-server to its cap; the hit is logged
// once per interval, counted in `gst show --json` (the session's capHits and errors.limit), and
// another session on the same server moves data as before.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run } from '../helpers/processes.js'
import { reportUntil, showJson as showJsonOf } from '../helpers/show.js'
import type { SessionStatus, StatusReport } from '../../src/control/status.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-limits-'))
const controlDir = join(dir, 'ctl')
const group = new ProcessGroup()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }

/** Streams whose first bytes are this are never read by the target (a stuck reader). */
const SLOW = Buffer.from('SLOWSLOW')
const stuck = new Set<net.Socket>()
const target = net.createServer((socket) => {
  socket.on('error', () => {})
  socket.once('data', (first) => {
    if (first.subarray(0, SLOW.length).equals(SLOW)) {
      socket.pause()
      stuck.add(socket)
      socket.once('close', () => stuck.delete(socket))
      return
    }
    socket.write(first)
    socket.pipe(socket)
  })
})
await new Promise<void>((resolve) => target.listen(0, '127.0.0.1', resolve))
const targetPort = (target.address() as net.AddressInfo).port
const senders = new Set<net.Socket>()

after(async () => {
  for (const s of senders) s.destroy()
  for (const s of stuck) s.destroy()
  await group.killAll()
  target.close()
  rmSync(dir, { recursive: true, force: true })
})

const showJson = async (name: string): Promise<StatusReport> => await showJsonOf(group, controlDir, name, { env, cwd: dir })
const showUntil = async (name: string, ok: (r: StatusReport) => boolean, what: string, timeoutMs = 20_000): Promise<StatusReport> =>
  await reportUntil(async () => await showJson(name), ok, what, timeoutMs)

const bufferHits = (s: SessionStatus): number => s.capHits?.buffer ?? 0

/** Streams through `port` that send more than the kernel buffers hold, to a reader that never reads. */
function openStuckStreams (port: number, count: number): void {
  for (let i = 0; i < count; i++) {
    const s = net.connect(port, '127.0.0.1', () => { s.write(SLOW); s.write(randomData(8 * 1024 * 1024)) })
    s.on('error', () => {})
    senders.add(s)
  }
}

async function exact (port: number, bytes: number): Promise<boolean> {
  const data = randomData(bytes)
  return (await roundTrip(port, data)).sha256 === sha256(data)
}

test('session buffer cap: a session whose target stops reading pauses at its cap, logged once and counted in gst show; another session is unaffected', { timeout: 90_000 }, async () => {
  const keyFile = join(dir, 'limits.key')
  const k = await run(group, 'gst', process.execPath, [binPath('gst'), 'keygen', keyFile], { env, cwd: dir, timeoutMs: 20_000 })
  assert.equal(k.code, 0, k.stderr)
  const serverPort = await freePort()
  const server = group.spawnGst('gst-server', ['--name', 'srv', '--control-dir', controlDir, '--session-buffer', '64k', '--window', '64k',
    `127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  const ports = [await freePort(), await freePort()] as const
  for (const [i, port] of ports.entries()) {
    const client = group.spawnGst('gst-client', ['--name', `c${i}`, '--control-dir', controlDir, `127.0.0.1:${port}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
    await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  }
  const [portA, portB] = ports
  assert.ok(await exact(portA, 200_000) && await exact(portB, 200_000), 'both sessions carry data before the test')

  const openedAtMs = Date.now()
  openStuckStreams(portA, 6)
  // Kernel buffers drain into the stuck reader's socket in steps, so the session pauses and
  // resumes at its cap again and again: many hits, one log line per interval.
  const report = await showUntil('srv', (r) => r.sessions.some((s) => bufferHits(s) >= 2), 'buffer cap hits')
  const elapsedMs = Date.now() - openedAtMs
  const hit = report.sessions.filter((s) => bufferHits(s) >= 1)
  assert.equal(hit.length, 1, 'only the stuck session hit its cap')
  const peerA = hit[0]!.peer
  assert.ok(report.errors.limit.count >= bufferHits(hit[0]!), 'every hit is counted under errors.limit')
  assert.equal(report.errors.limit.lastSource, peerA)
  const lines = server.stderrLines.filter((l) => /buffer cap of 65536 bytes/.test(l))
  if (elapsedMs < 9_000) assert.equal(lines.length, 1, `logged once for ${bufferHits(hit[0]!)} hits:\n${lines.join('\n')}`)
  else assert.ok(lines.length >= 1 && lines.length <= Math.ceil(elapsedMs / 10_000), `rate-limited:\n${lines.join('\n')}`)

  // While A is held at its cap, B moves data byte-exact over the same server and target.
  assert.ok(await exact(portB, 2_000_000), 'another session is unaffected')
  const later = await showJson('srv')
  for (const s of later.sessions) if (s.peer !== peerA) assert.equal(bufferHits(s), 0, 'the other session never hit the cap')

  // A paused session reads nothing, not even its client's RESETs: it waits for the stuck reader.
  // Once that reader goes, the held bytes are dropped and A carries data again.
  for (const s of stuck) s.destroy()
  for (const s of senders) s.destroy()
  senders.clear()
  assert.ok(await exact(portA, 500_000), 'the capped session carries data again once the stuck reader is gone')
})
