// Operations of the VPN through the real ttt binaries in the lab, as issue 7 asks for both modes:
// a client started from a TOML --config file (key from a key file, two paths, name, metrics,
// hook), a server started from flags, a Prometheus scrape of each (parsed as text format) whose
// counters move with traffic through the tunnel, and an --on-event hook that records session-up,
// each path's up, and path-down / path-up when a lab link is cut and restored.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Lab } from '../lab/lab.js'
import { NsProcess, keygen, startTttServer, ping, sleep, tttPath } from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { Scope, tttLabSkip } from './helpers/scope.js'
import { parsePrometheusText, sampleValue, type Exposition } from '../helpers/prom-text.js'

const controlDir = useTestControlDir()
const skip = tttLabSkip()

const PORT = 5000
const SERVER_INNER = '10.9.0.1'
const METRICS_PORT = 9464

/** Scrapes HOST:PORT/metrics from inside a lab namespace (the metrics listen there). */
async function scrape (lab: Lab, side: 'client' | 'server', host: string): Promise<Exposition> {
  const script = `const r = await fetch('http://${host}:${METRICS_PORT}/metrics'); ` +
    "if (r.status !== 200 || !/^text\\/plain; version=0\\.0\\.4/.test(r.headers.get('content-type') ?? '')) { console.error('HTTP', r.status, r.headers.get('content-type')); process.exit(1) } " +
    'process.stdout.write(await r.text())'
  const { stdout } = await lab.exec(side, process.execPath, ['--input-type=module', '-e', script], { timeoutMs: 10_000 })
  return parsePrometheusText(stdout)
}

const sum = (x: Exposition, name: string, labels: Record<string, string> = {}): number =>
  x.samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)).reduce((a, s) => a + s.value, 0)

async function until (what: string, ok: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

test('ttt client from a --config file and ttt server from flags: metrics move with traffic, hooks record session and path events as a link is cut and restored', { skip, timeout: 120_000 }, async (t: TestContext) => {
  const s = new Scope(t)
  const dir = mkdtempSync(join(tmpdir(), 'gst-ttt-ops-'))
  s.onClose(() => rmSync(dir, { recursive: true, force: true }))
  const lab = await s.lab$([{ delayMs: 5, rateMbit: 50, queuePkts: 100 }, { delayMs: 5, rateMbit: 50, queuePkts: 100 }])
  const key = keygen()
  const keyFile = join(dir, 'ttt.key')
  writeFileSync(keyFile, key + '\n', { mode: 0o600 })
  const events = join(dir, 'events.log')
  const hook = join(dir, 'hook.sh')
  writeFileSync(hook, `#!/bin/sh\necho "$GST_EVENT instance=$GST_INSTANCE path=$GST_PATH state=$GST_STATE" >> ${events}\n`)
  chmodSync(hook, 0o755)

  const server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`,
    { key, extra: ['--name', 'ops-srv', '--control-dir', controlDir, '--metrics', `${lab.serverAddress}:${METRICS_PORT}`] })
  s.add(server)
  await server.waitFor(/ttt server listening/, 20_000)
  assert.ok(server.lines.some((l) => l.includes(`metrics on http://${lab.serverAddress}:${METRICS_PORT}/metrics`)), server.text)

  const config = join(dir, 'client.toml')
  writeFileSync(config, [
    '# a ttt client as an operator would write it',
    `server = "${lab.serverAddress}:${PORT}"`,
    `key = "@${keyFile}"`,
    'address = ["10.9.0.2/24"]',
    `path = ["${lab.clientAddress(0)}", "${lab.clientAddress(1)}"]`,
    'name = "ops-cli"',
    `control-dir = "${controlDir}"`,
    `metrics = "127.0.0.1:${METRICS_PORT}"`,
    `on-event = "${hook}"`,
    'log-level = "debug"',
  ].join('\n') + '\n')
  const client = NsProcess.spawn('ttt client (config)', lab.namespaces.client, process.execPath, [tttPath, 'client', '--config', config])
  s.add(client)
  await client.waitFor(/session with .* up/, 20_000)
  assert.ok(client.lines.some((l) => / debug /.test(l) || /"level":"debug"/.test(l)), 'log-level = "debug" came from the file')
  assert.ok(!client.text.includes(key), 'no key material in the log')

  await until('session-up and both paths up in the hook log', () =>
    existsSync(events) && /^session-up instance=ops-cli /m.test(readFileSync(events, 'utf8')) &&
    /^path-up instance=ops-cli path=0 state=up$/m.test(readFileSync(events, 'utf8')) &&
    /^path-up instance=ops-cli path=1 state=up$/m.test(readFileSync(events, 'utf8')))

  // Traffic through the tunnel, then the counters of both ends.
  const before = await scrape(lab, 'client', '127.0.0.1')
  const pings = await ping(lab.namespaces.client, SERVER_INNER, 20, 0.05, ['-s', '1000'])
  assert.equal(pings.lossPct, 0, `every ping through the tunnel answered (rtts ${pings.rtts.join(' ')}); client log:\n${client.text.slice(-4000)}`)
  const after = await scrape(lab, 'client', '127.0.0.1')
  assert.equal(sampleValue(after, 'gst_instance_info', { name: 'ops-cli' }), 1)
  assert.equal(after.types.get('gst_path_sent_bytes_total'), 'counter')
  const sent = sum(after, 'gst_path_sent_bytes_total') - sum(before, 'gst_path_sent_bytes_total')
  t.diagnostic(`client paths sent ${sent} bytes during 20 pings of 1000 bytes`)
  assert.ok(sent >= 20 * 1000, `the client's path byte counters moved with the pings (${sent} bytes)`)
  for (const path of ['0', '1']) assert.equal(sampleValue(after, 'gst_path_state', { path, state: 'up' }), 1, `path ${path} is up in the metrics`)
  const srv = await scrape(lab, 'server', lab.serverAddress)
  assert.equal(sampleValue(srv, 'gst_sessions', { state: 'up' }), 1)
  assert.ok(sum(srv, 'gst_session_received_bytes_total') >= 20 * 1000, 'the server counted the pings it received')

  // A link goes silent: the hook hears path 1 go down, then come back.
  await lab.cut(1)
  await until('path-down of path 1 in the hook log', () => /^path-down instance=ops-cli path=1 /m.test(readFileSync(events, 'utf8')))
  const cutScrape = await scrape(lab, 'client', '127.0.0.1')
  assert.equal(sampleValue(cutScrape, 'gst_path_state', { path: '1', state: 'up' }), 0, 'path 1 is no longer up in the metrics')
  assert.equal((await ping(lab.namespaces.client, SERVER_INNER, 10, 0.05)).lossPct, 0, 'the tunnel carries on over path 0')
  const upsBefore = readFileSync(events, 'utf8').match(/^path-up instance=ops-cli path=1 /gm)?.length ?? 0
  await lab.restore(1)
  await until('path 1 up again in the hook log', () => (readFileSync(events, 'utf8').match(/^path-up instance=ops-cli path=1 /gm)?.length ?? 0) > upsBefore)
  const log = readFileSync(events, 'utf8')
  t.diagnostic(`hook log: ${log.trim().split('\n').join('; ')}`)
  assert.doesNotMatch(log, /^path-down instance=ops-cli path=0 /m, 'path 0, never cut, never reported down')
  assert.doesNotMatch(log, /^session-down /m, 'the session stayed up throughout')
})
