// bench/lib/tcp-flow.ts, the lab's measured TCP flow, on loopback: its source sets the congestion
// control asked for (--cc, through the addon) and says which it used; a name the kernel lacks ends
// it with exit 1 and what to check; every byte the source wrote reaches the sink (SHA-256 both ends).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { setTimeout as sleep } from 'node:timers/promises'
import { ProcessGroup, freePort, run, type Daemon } from '../helpers/processes.js'

const tcpFlow = fileURLToPath(new URL('../../bench/lib/tcp-flow.js', import.meta.url))
const group = new ProcessGroup()
after(async () => await group.killAll())

/** The sink says "listening" on stdout once ready (a probe connection would be taken for the flow). */
async function listening (sink: Daemon): Promise<void> {
  for (const deadline = Date.now() + 10_000; !sink.stdout.includes('listening');) {
    if (Date.now() > deadline || sink.exit !== undefined) throw new Error(`tcp-flow sink did not start: ${sink.stderr}`)
    await sleep(20)
  }
}

test('tcp-flow source --cc reno: the flow uses reno and arrives whole; an unknown algorithm fails with what to check, a missing one with the usage', { timeout: 30_000 }, async () => {
  const port = await freePort()
  const sink = group.spawn('sink', process.execPath, [tcpFlow, 'sink', '127.0.0.1', String(port)])
  await listening(sink)
  // reno is in every kernel's tcp_allowed_congestion_control, so this holds without root too.
  const source = await run(group, 'source', process.execPath, [tcpFlow, 'source', '127.0.0.1', String(port), '0.3', '--cc', 'reno'])
  assert.equal(source.code, 0, source.stderr)
  const sent = JSON.parse(source.stdout.trim()) as { bytes: number, sha256: string, cc: string }
  assert.equal(sent.cc, 'reno')
  assert.ok(sent.bytes > 0)
  await sink.exited
  const received = JSON.parse(sink.stdout.split('\n').find((l) => l.startsWith('{'))!) as { bytes: number, sha256: string }
  assert.deepEqual({ bytes: received.bytes, sha256: received.sha256 }, { bytes: sent.bytes, sha256: sent.sha256 })

  const port2 = await freePort()
  const sink2 = group.spawn('sink2', process.execPath, [tcpFlow, 'sink', '127.0.0.1', String(port2)])
  await listening(sink2)
  const bad = await run(group, 'source', process.execPath, [tcpFlow, 'source', '127.0.0.1', String(port2), '0.3', '--cc', 'no-such-cc'])
  assert.equal(bad.code, 1)
  assert.match(bad.stderr, /source: couldn't set TCP congestion control no-such-cc .*ENOENT.*tcp_available_congestion_control/)

  const noName = await run(group, 'source', process.execPath, [tcpFlow, 'source', '127.0.0.1', String(port2), '0.3', '--cc'])
  assert.equal(noName.code, 2)
  assert.match(noName.stderr, /--cc takes an algorithm's name/)
})
