// The pipe over two lab links (issue 6): gst-server in the server namespace, gst-client in the
// client namespace with one --path per link, real TCP streams through it. Function, not speed:
// bytes are checked by sha256, each link's share of a stream by the lab's counters, and the
// client's subflows by its status (what `gst show --json` prints). Speed is bench:pipe-multipath's.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { Lab, labUnavailableReason, type LinkConfig } from '../lab/lab.js'
import { NsProcess, keygen, sleep } from '../../bench/lib/vpn.js'
import { tcpFlowPath, flowReport } from '../../bench/lib/lab-flow.js'
import {
  controlDir, startGstServer, startGstClient, waitForPaths, sessionPaths, pathFrom, gstClientPath, type GstProcess,
} from '../../bench/lib/pipe-lab.js'
import type { StatusReport } from '../../src/control/status.js'
import { seededRandom as prng } from '../helpers/seeded-random.js'

const streamCheckPath = new URL('../../bench/lib/stream-check.js', import.meta.url).pathname
const skip = labUnavailableReason() ?? (existsSync(gstClientPath) ? undefined : `${gstClientPath} is missing (run npm run build)`)

// Rates and delays of bench:pipe-multipath's lab, with l2's delay shortened to keep the file quick.
const L1: LinkConfig = { delayMs: 10, rateMbit: 20, queuePkts: 100 }
const L2: LinkConfig = { delayMs: 30, rateMbit: 10, queuePkts: 100 }
const SERVER_PORT = 43210
const LISTEN = '127.0.0.1:1080'
const TARGET = { host: '127.0.0.1', port: 7000 }

/** Everything a test starts, torn down in t.after even when an assertion failed. */
class Scope {
  lab!: Lab
  readonly procs: NsProcess[] = []
  readonly key = keygen()
  readonly dir = controlDir()
  constructor (t: TestContext) { t.after(async () => await this.close()) }
  add (p: NsProcess): NsProcess { this.procs.push(p); return p }

  /** The lab, a target (`target` argv run in the server namespace, printing "listening"), gst-server and a two-path gst-client. */
  async up (target: string[]): Promise<{ server: GstProcess, client: GstProcess }> {
    this.lab = await Lab.up({ links: [L1, L2] })
    const sink = this.add(NsProcess.spawn('target', this.lab.namespaces.server, process.execPath, target))
    await sink.waitFor(/^listening/)
    const server = await startGstServer(this.lab.namespaces.server, `${this.lab.serverAddress}:${SERVER_PORT}`, `${TARGET.host}:${TARGET.port}`, { key: this.key, controlDir: this.dir, name: 'server' })
    this.add(server.proc)
    const client = startGstClient(this.lab.namespaces.client, LISTEN, `${this.lab.serverAddress}:${SERVER_PORT}`,
      { key: this.key, controlDir: this.dir, name: 'client', paths: [this.lab.clientAddress(0), this.lab.clientAddress(1)] })
    this.add(client.proc)
    await waitForPaths(client, 2)
    return { server, client }
  }

  async close (): Promise<void> {
    for (const p of this.procs) p.kill()
    await Promise.all(this.procs.map(async (p) => await p.exited))
    await this.lab?.down()
  }
}

function pathSummary (r: StatusReport): string {
  return sessionPaths(r).map((p) => `${p.local} ${p.state} out ${p.bytesOut}`).join(', ')
}

test('two lab links: one stream through two paths is byte-exact and both links carry a share of it', { skip, timeout: 60_000 }, async (t) => {
  const s = new Scope(t)
  const { client } = await s.up([tcpFlowPath, 'sink', TARGET.host, String(TARGET.port)])
  const lab = s.lab
  const before = [await lab.stats(0), await lab.stats(1)]
  const source = s.add(NsProcess.spawn('source', lab.namespaces.client, process.execPath, [tcpFlowPath, 'source', ...LISTEN.split(':'), '5']))
  assert.equal(await source.exited, 0, `the source ran to its end: ${source.text.slice(-500)}`)
  const report = await client.status()
  await Promise.race([s.procs[0]!.exited, sleep(10_000)])
  const sent = JSON.parse(source.lines.find((l) => l.startsWith('{'))!) as { bytes: number, sha256: string }
  const got = flowReport(s.procs[0]!.lines)
  const after = [await lab.stats(0), await lab.stats(1)]
  const carried = [0, 1].map((l) => after[l]!.up.txBytes - before[l]!.up.txBytes)
  const shares = carried.map((c) => c / (carried[0]! + carried[1]!))
  t.diagnostic(`${(sent.bytes / 1e6).toFixed(1)} MB in 5 s; lab l1/l2 ${shares.map((x) => `${(x * 100).toFixed(0)} %`).join(' / ')}; client paths: ${pathSummary(report)}`)
  assert.equal(got.bytes, sent.bytes, 'the sink got every byte')
  assert.equal(got.sha256, sent.sha256, 'and the same bytes (sha256)')
  // l2 has a third of the capacity: each link carrying >= 20 % means the stream is striped.
  for (const [l, share] of shares.entries()) assert.ok(share >= 0.2, `link l${l + 1} carried ${(share * 100).toFixed(1)} % of the stream's bytes`)
  const paths = sessionPaths(report)
  assert.equal(paths.length, 2, `the client shows two subflows: ${pathSummary(report)}`)
  for (const l of [0, 1]) {
    const p = pathFrom(report, lab.clientAddress(l))
    assert.ok(p !== undefined, `a subflow from l${l + 1}'s address ${lab.clientAddress(l)}: ${pathSummary(report)}`)
    const total = paths.reduce((a, q) => a + q.bytesOut, 0)
    assert.ok(p.bytesOut >= 0.2 * total, `the client counts l${l + 1}'s subflow's share too: ${pathSummary(report)}`)
  }
})

/** Polls `check` every 200 ms until it holds (true) or `timeoutMs` passes (false). */
async function poll (check: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    if (await check()) return true
    if (Date.now() > deadline) return false
    await sleep(200)
  }
}


test('many streams stay byte-exact while l2 is cut and restored at random times, and the client rejoins over l2', { skip, timeout: 90_000 }, async (t) => {
  const s = new Scope(t)
  const { client, server } = await s.up([streamCheckPath, 'echo', TARGET.host, String(TARGET.port)])
  const lab = s.lab
  const seed = Number(process.env.PIPE_MP_SEED ?? Date.now() % 100_000)
  const random = prng(seed)
  const l2 = lab.clientAddress(1)
  // 24 concurrent echo streams of 1 B .. 3 MB (about 20 MB each way), starting within 2 s.
  const driver = s.add(NsProcess.spawn('stream-check', lab.namespaces.client, process.execPath, [streamCheckPath, 'run', ...LISTEN.split(':'), '24', String(3e6), String(seed), '2000']))
  let running = true
  void driver.exited.then(() => { running = false })
  const killer = setTimeout(() => driver.kill(), 60_000)
  // While the streams run: the client's view of l2's subflow, and cuts at random times, the
  // first one long (3 s) so the subflow is given up for dead and must rejoin.
  const events: string[] = []
  let l2Lost = false
  const watch = (async () => {
    while (running) {
      const r = await client.status().catch(() => undefined)
      const p = r && pathFrom(r, l2)
      if (r && (p === undefined || !['up', 'degraded', 'backup'].includes(p.state))) l2Lost = true
      await sleep(100)
    }
  })()
  const started = Date.now()
  let cuts = 0
  let first = true
  while (running) {
    await sleep(200 + random() * 1000)
    if (!running) break
    await lab.cut(1)
    cuts++
    const downMs = first ? 3000 : 100 + random() * 1500
    events.push(`cut at ${Date.now() - started} ms for ${downMs.toFixed(0)} ms`)
    first = false
    await sleep(downMs)
    await lab.restore(1)
  }
  await lab.restore(1)
  clearTimeout(killer)
  await watch
  const result = JSON.parse(driver.lines.find((l) => l.startsWith('{')) ?? '{}') as { streams: number, ok: number, bytes: number, ms: number, failed: unknown[] }
  t.diagnostic(`seed ${seed} (PIPE_MP_SEED=${seed} replays the sizes and the schedule); ${result.ok}/${result.streams} streams, ${((result.bytes ?? 0) / 1e6).toFixed(1)} MB echoed in ${result.ms} ms; ${events.join('; ')}`)
  assert.ok(cuts >= 1, 'l2 was cut while the streams ran')
  assert.equal(result.streams, 24, `the driver reported: ${driver.text.slice(-1000)}`)
  assert.deepEqual(result.failed, [], 'every stream echoed byte-exact')
  assert.ok(l2Lost, 'the client gave up l2\'s subflow during the 3 s cut (so what follows is a rejoin)')
  // Rejoin: the client's session returns to two paths up, l2's among them (generous timeout:
  // backoff may have grown during the cuts); the server sees both too.
  const rejoined = await waitForPaths(client, 2, 30_000)
  assert.ok(pathFrom(rejoined, l2) !== undefined, `l2's subflow is back: ${pathSummary(rejoined)}`)
  // The server may list the dead l2 subflow until its own stall check drops it: poll.
  let seen = ''
  const settled = await poll(async () => {
    const r = await server.status()
    seen = r.sessions.map((x) => `session ${x.id} ${x.state}: ${(x.paths ?? []).map((p) => `${p.remote} ${p.state}`).join(', ')}`).join('; ')
    const up = r.sessions.filter((x) => x.state === 'up')
    return up.length === 1 && (up[0]!.paths ?? []).filter((p) => p.state === 'up').length === 2
  }, 15_000)
  assert.ok(settled, `the server shows one session (the rejoin joined it) with two up subflows: ${seen}`)
})
