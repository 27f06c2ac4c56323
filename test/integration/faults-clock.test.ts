// Clock jumps against the real pipe binaries, with libfaketime (Debian's `faketime`): the wall
// clock only (the monotonic clock is left alone, as when NTP or an admin steps the clock).
// Nothing in gst may need synchronised or steady wall clocks: handshake timestamps come from the
// wall clock read once at start, advanced by the monotonic clock.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { existsSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ProcessGroup, freePort, waitForPort } from '../helpers/processes.js'
import { startEchoServer, roundTrip, randomData, sha256, waitFor } from '../helpers/net.js'
import { generateKey } from '../../src/crypto/key.js'

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find(existsSync)
const skip = LIBFAKETIME === undefined ? 'libfaketime is not installed (apt-get install faketime)' : undefined

function fakeClock (spec: { offset?: string, file?: string }): NodeJS.ProcessEnv {
  return {
    ...process.env,
    LD_PRELOAD: LIBFAKETIME!,
    FAKETIME_DONT_FAKE_MONOTONIC: '1',
    ...(spec.offset !== undefined ? { FAKETIME: spec.offset } : {}),
    ...(spec.file !== undefined ? { FAKETIME_TIMESTAMP_FILE: spec.file, FAKETIME_NO_CACHE: '1' } : {}),
  }
}

async function exact (port: number, bytes: number): Promise<boolean> {
  const data = randomData(bytes)
  return (await roundTrip(port, data)).sha256 === sha256(data)
}

/** A relay whose connections the test can cut, so the client must make a new handshake. */
async function cuttableRelay (upstream: number): Promise<{ port: number, cut: () => void, close: () => void }> {
  const sockets = new Set<net.Socket>()
  const server = net.createServer((a) => {
    const b = net.connect(upstream, '127.0.0.1')
    for (const s of [a, b]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => { a.destroy(); b.destroy() }) }
    a.pipe(b); b.pipe(a)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { port: (server.address() as net.AddressInfo).port, cut: () => { for (const s of sockets) s.destroy() }, close: () => { server.close() } }
}

test('server 3 h behind, client 3 h ahead, keys rotating every second: streams work, no handshake refused', { skip, timeout: 40_000 }, async (t) => {
  const group = new ProcessGroup()
  const echo = await startEchoServer()
  t.after(async () => { await group.killAll(); echo.server.close() })
  const key = generateKey().toString('base64')
  const serverPort = await freePort()
  const clientPort = await freePort()
  const server = group.spawnGst('gst-server', [`127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, key, '--rekey', '1'], { env: fakeClock({ offset: '-3h' }) })
  await waitForPort(serverPort)
  const client = group.spawnGst('gst-client', [`127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, key, '--rekey', '1', '--log-level', 'info'], { env: fakeClock({ offset: '+3h' }) })
  await waitForPort(clientPort)
  const started = Date.now()
  let streams = 0
  while (Date.now() - started < 4000) { assert.ok(await exact(clientPort, 300_000), `stream ${streams}`); streams++ }
  t.diagnostic(`${streams} streams over 4 s of 1 s rotations; server log tail: ${server.stderrLines.slice(-2).join(' | ')}`)
  assert.equal(server.stderrLines.filter((l) => /replay|wrong key|rotation|timed out/.test(l)).length, 0, 'no handshake or rotation refused (the port probe, closed mid-handshake, aside)')
  assert.equal(client.stderrLines.filter((l) => /session .* up/.test(l)).length, 1, 'one session throughout')
})

test('the client\'s wall clock steps back 5 h and forward 5 h mid-run (rekey 1 s): the session goes on, and its reconnections are not taken for replays', { skip, timeout: 60_000 }, async (t) => {
  const group = new ProcessGroup()
  const echo = await startEchoServer()
  const dir = mkdtempSync(join(tmpdir(), 'gst-clock-'))
  const clockFile = join(dir, 'faketime')
  writeFileSync(clockFile, '+0\n')
  const key = generateKey().toString('base64')
  const serverPort = await freePort()
  const clientPort = await freePort()
  const server = group.spawnGst('gst-server', [`127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, key, '--rekey', '1'])
  await waitForPort(serverPort)
  const relay = await cuttableRelay(serverPort)
  t.after(async () => { await group.killAll(); echo.server.close(); relay.close(); rmSync(dir, { recursive: true, force: true }) })
  const client = group.spawnGst('gst-client', [`127.0.0.1:${clientPort}`, `127.0.0.1:${relay.port}`, key, '--rekey', '1', '--log-level', 'info'], { env: fakeClock({ file: clockFile }) })
  await waitForPort(clientPort)
  assert.ok(await exact(clientPort, 200_000))
  const sessionsUp = (): number => client.stderrLines.filter((l) => /session .* up/.test(l)).length

  for (const step of ['-5h', '+5h']) {
    writeFileSync(clockFile, `${step}\n`)
    await new Promise((resolve) => setTimeout(resolve, 1500))   // a rotation or two across the step
    assert.ok(await exact(clientPort, 300_000), `the session carries data after the step to ${step}`)
    // A new handshake after the step: its timestamp must still be newer than the last one.
    const before = sessionsUp()
    relay.cut()
    await waitFor(() => sessionsUp() > before, 15_000, `a new session after the step to ${step}`)
    assert.ok(await exact(clientPort, 300_000), `the new session carries data (${step})`)
  }
  assert.equal(server.stderrLines.filter((l) => /replay/.test(l)).length, 0, 'no handshake was taken for a replay')
  t.diagnostic(`client sessions: ${sessionsUp()}; client log tail: ${client.stderrLines.slice(-2).join(' | ')}`)
})
