// Faults against the real pipe binaries on loopback: the server killed with SIGKILL under load and
// started again (the client reconnects by itself and new streams work; nothing is left running),
// and the target going down and coming back (streams are refused with a log line naming the
// target, then work again, on the same session).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { ProcessGroup, freePort, waitForPort } from '../helpers/processes.js'
import { startEchoServer, roundTrip, randomData, sha256, waitFor } from '../helpers/net.js'
import { generateKey } from '../../src/crypto/key.js'

/** A stream that sends `bytes` and reads the echo; resolves with what happened, never throws. */
async function tryStream (port: number, bytes: number): Promise<'ok' | 'failed'> {
  try {
    const data = randomData(bytes)
    return (await roundTrip(port, data)).sha256 === sha256(data) ? 'ok' : 'failed'
  } catch {
    return 'failed'
  }
}

function isRunning (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('kill -9 of the server under load, then a restart: the client reconnects, new streams work, no process is left', { timeout: 60_000 }, async (t) => {
  const group = new ProcessGroup()
  const echo = await startEchoServer()
  t.after(async () => { await group.killAll(); echo.server.close() })
  const key = generateKey().toString('base64')
  const serverPort = await freePort()
  const clientPort = await freePort()
  const serverArgs = [`127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, key]
  let server = group.spawnGst('gst-server', serverArgs)
  await waitForPort(serverPort)
  const client = group.spawnGst('gst-client', [`127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, key, '--log-level', 'info'])
  await waitForPort(clientPort)
  assert.equal(await tryStream(clientPort, 100_000), 'ok')

  // Load: 8 streams in a loop while the server dies.
  let stop = false
  const outcomes = { ok: 0, failed: 0 }
  const load = Array.from({ length: 8 }, async () => {
    while (!stop) outcomes[await tryStream(clientPort, 200_000 + Math.floor(Math.random() * 800_000))]++
  })
  await waitFor(() => outcomes.ok >= 8, 20_000, 'the load is flowing')
  const killedPid = server.child.pid!
  await server.stop('SIGKILL')
  const failedBefore = outcomes.failed
  await new Promise((resolve) => setTimeout(resolve, 500))
  server = group.spawnGst('gst-server', serverArgs)
  await waitForPort(serverPort)
  const okAtRestart = outcomes.ok
  await waitFor(() => outcomes.ok >= okAtRestart + 16, 30_000, 'streams work again after the restart')
  stop = true
  await Promise.all(load)

  t.diagnostic(`streams ok ${outcomes.ok}, failed ${outcomes.failed} (${outcomes.failed - failedBefore} after the kill); client log: ${client.stderrLines.filter((l) => /session|reconnect|connect/.test(l)).slice(-4).join(' | ')}`)
  assert.ok(client.stderrLines.some((l) => /session .* up|session up/.test(l)), 'the client logged its session')
  assert.equal(await tryStream(clientPort, 1_000_000), 'ok', 'a new stream after recovery is byte-exact')
  assert.equal(client.exit, undefined, 'the client never exited')
  assert.equal(isRunning(killedPid), false, 'the killed server is gone')
  await group.killAll()
  for (const d of group.daemons) assert.equal(isRunning(d.child.pid!), false, `${d.name} ${d.child.pid} is not left running`)
})

test('the target goes down and comes back: streams are refused with a log line naming it, then work on the same session', { timeout: 30_000 }, async (t) => {
  const group = new ProcessGroup()
  const targetPort = await freePort()
  let target = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s))
  await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve))
  t.after(async () => { await group.killAll(); target.close() })
  const key = generateKey().toString('base64')
  const serverPort = await freePort()
  const clientPort = await freePort()
  const server = group.spawnGst('gst-server', [`127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, key])
  await waitForPort(serverPort)
  const client = group.spawnGst('gst-client', [`127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, key, '--log-level', 'info'])
  await waitForPort(clientPort)
  assert.equal(await tryStream(clientPort, 50_000), 'ok')

  await new Promise<void>((resolve) => target.close(() => resolve()))
  const refused = await Promise.all([1, 2, 3].map(async () => await tryStream(clientPort, 10_000)))
  assert.deepEqual(refused, ['failed', 'failed', 'failed'], 'streams to a dead target fail')
  await server.waitForLine(new RegExp(`127\\.0\\.0\\.1:${targetPort} failed: .*ECONNREFUSED`), 5000)

  target = net.createServer({ allowHalfOpen: true }, (s) => s.pipe(s))
  await new Promise<void>((resolve) => target.listen(targetPort, '127.0.0.1', resolve))
  assert.equal(await tryStream(clientPort, 500_000), 'ok', 'the target is back: streams work')
  const sessionsUp = client.stderrLines.filter((l) => /up/.test(l) && /session/.test(l)).length
  assert.equal(sessionsUp, 1, 'one session throughout: a dead target costs streams, never the session')
  assert.equal(server.exit, undefined)
})
