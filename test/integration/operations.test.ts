// Operations through the real binaries on loopback: a Prometheus scrape of gst-client and
// gst-server parsed as text format (values move with traffic), an --on-event hook that records
// session up/down (client started before its server, then the server stopped), a config file
// equivalent to flags (and flags overriding it), and the errors of bad configs.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startEchoServer, roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run, type Daemon } from '../helpers/processes.js'
import { parsePrometheusText, sampleValue, type Exposition } from '../helpers/prom-text.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-ops-'))
const controlDir = join(dir, 'ctl')
const group = new ProcessGroup()
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }
const echo = await startEchoServer()
const keyFile = join(dir, 'ops.key')
after(async () => {
  await group.killAll()
  echo.server.close()
  rmSync(dir, { recursive: true, force: true })
})

async function scrape (port: number): Promise<Exposition> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`)
  assert.equal(response.status, 200)
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  return parsePrometheusText(await response.text())
}

async function until<T> (read: () => Promise<T>, ok: (value: T) => boolean, what: string, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await read()
    if (ok(value)) return value
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const CHUNK = 128 * 1024
const total = (x: Exposition, name: string): number => x.samples.filter((s) => s.name === name).reduce((a, s) => a + s.value, 0)

test('key', async () => {
  const k = await run(group, 'gst', process.execPath, [binPath('gst'), 'keygen', keyFile], { env, cwd: dir })
  assert.equal(k.code, 0, k.stderr)
})

test('--metrics on gst-client and gst-server: a text-format scrape whose counters move with traffic', async () => {
  const serverPort = await freePort()
  const clientPort = await freePort()
  const serverMetrics = await freePort()
  const clientMetrics = await freePort()
  const server = group.spawnGst('gst-server', ['--control-dir', controlDir, '--metrics', `127.0.0.1:${serverMetrics}`, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  assert.match(server.stderr, new RegExp(`metrics on http://127\\.0\\.0\\.1:${serverMetrics}/metrics`))
  const client = group.spawnGst('gst-client', ['--control-dir', controlDir, '--rekey', '0.5', '--metrics', `127.0.0.1:${clientMetrics}`, `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)

  const before = await scrape(clientMetrics)
  assert.equal(before.types.get('gst_session_sent_bytes_total'), 'counter')
  assert.equal(before.types.get('gst_path_rtt_seconds'), 'gauge')
  assert.equal(sampleValue(before, 'gst_instance_info', { mode: 'pipe-client', name: `client-${clientPort}` }), 1)
  assert.equal(sampleValue(before, 'gst_sessions', { state: 'up' }), 1)
  const sentBefore = total(before, 'gst_session_sent_bytes_total')
  const openedBefore = sampleValue(before, 'gst_streams_opened_total')

  const data = randomData(CHUNK)
  for (let i = 0; i < 2; i++) assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))

  const afterTraffic = await until(() => scrape(clientMetrics), (x) => sampleValue(x, 'gst_streams_opened_total') === openedBefore + 2 && total(x, 'gst_session_rekeys_total') >= 1, 'two streams and a rekey')
  assert.ok(total(afterTraffic, 'gst_session_sent_bytes_total') >= sentBefore + 2 * CHUNK, 'client bytes sent grew by what was sent')
  assert.ok(total(afterTraffic, 'gst_path_received_bytes_total') >= 2 * CHUNK)
  const rtt = afterTraffic.samples.find((s) => s.name === 'gst_path_rtt_seconds')
  assert.ok(rtt !== undefined && rtt.value >= 0 && rtt.value < 1, 'path RTT in seconds')
  assert.equal(afterTraffic.samples.find((s) => s.name === 'gst_path_state' && s.labels.state === 'up')?.value, 1)
  assert.equal(sampleValue(afterTraffic, 'gst_errors_total', { kind: 'decrypt' }), 0)
  assert.ok(afterTraffic.types.has('gst_process_cpu_seconds_total'))

  const s = await scrape(serverMetrics)
  assert.equal(sampleValue(s, 'gst_instance_info', { mode: 'pipe-server' }), 1)
  assert.equal(sampleValue(s, 'gst_sessions', { state: 'up' }), 1)
  assert.ok(total(s, 'gst_session_received_bytes_total') >= 2 * CHUNK)
  assert.equal(sampleValue(s, 'gst_streams_opened_total'), sampleValue(afterTraffic, 'gst_streams_opened_total'))

  // a client with the wrong key shows up in the server's handshake errors
  const badKey = join(dir, 'bad.key')
  assert.equal((await run(group, 'gst', process.execPath, [binPath('gst'), 'keygen', badKey], { env, cwd: dir })).code, 0)
  const bad = group.spawnGst('gst-client', ['--control-dir', controlDir, `127.0.0.1:${await freePort()}`, `127.0.0.1:${serverPort}`, `@${badKey}`], { env, cwd: dir })
  await until(() => scrape(serverMetrics), (x) => sampleValue(x, 'gst_errors_total', { kind: 'handshake' }) >= 1, 'a handshake error')
  await bad.stop()

  for (const d of [client, server]) {
    const exit = await d.stop('SIGTERM', 8000)
    assert.ok(exit.code === 0 || exit.signal === 'SIGTERM', JSON.stringify(exit))
  }
  await assert.rejects(fetch(`http://127.0.0.1:${clientMetrics}/metrics`), 'the metrics port closes with the instance')
})

test('--metrics on a taken port refuses to start, in one line', async () => {
  const taken = await freePort()
  const holder = group.spawn('holder', process.execPath, ['-e', `require('net').createServer().listen(${taken}, '127.0.0.1', () => console.error('ready'))`], { env })
  await holder.waitForLine(/ready/)
  const r = await run(group, 'gst-client', process.execPath, [binPath('gst-client'), '--control-dir', controlDir, '--metrics', `127.0.0.1:${taken}`, `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `@${keyFile}`], { env, cwd: dir })
  assert.equal(r.code, 2)
  assert.equal(r.stderr, `gst-client: --metrics 127.0.0.1:${taken}: couldn't listen: EADDRINUSE\n`)
  await holder.stop()
})

test('--on-event: a hook records session-up when the server appears and session-down when it stops', async () => {
  const events = join(dir, 'events.log')
  const hook = join(dir, 'hook.sh')
  writeFileSync(hook, `#!/bin/sh\necho "$1 $GST_EVENT instance=$GST_INSTANCE session=$GST_SESSION path=$GST_PATH peer=$GST_PEER state=$GST_STATE reason=$GST_REASON" >> ${events}\necho logged "$1"\n`)
  chmodSync(hook, 0o755)
  const serverPort = await freePort()
  const clientPort = await freePort()
  const client = group.spawnGst('gst-client', ['--control-dir', controlDir, '--name', 'hooked', '--on-event', hook, '--reconnect-max', '0.3', `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/client listening on/, 30_000)
  await client.waitForLine(/session to .* failed/, 10_000)
  assert.equal(existsSync(events), false, 'no event while the server is absent')

  const server = group.spawnGst('gst-server', ['--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  await client.waitForLine(/hook session-up: exit 0 after \d+ ms: logged session-up/, 15_000)
  await client.waitForLine(/hook path-up: exit 0/, 15_000)
  const up = readFileSync(events, 'utf8')
  assert.match(up, new RegExp(`^session-up session-up instance=hooked session=1 path= peer=127\\.0\\.0\\.1:${serverPort} state=up reason=session up$`, 'm'))
  assert.match(up, new RegExp(`^path-up path-up instance=hooked session=1 path=0 peer=127\\.0\\.0\\.1:${serverPort} state=up reason=path up$`, 'm'))

  await server.stop('SIGTERM', 8000)
  await client.waitForLine(/hook session-down: exit 0/, 15_000)
  const down = readFileSync(events, 'utf8')
  assert.match(down, /^path-down path-down instance=hooked session=1 path=0 .* state=gone reason=session ended$/m)
  assert.match(down, /^session-down session-down instance=hooked session=1 path= .* state=gone reason=session ended$/m)
  assert.equal(down.trim().split('\n').length, 4, down)
  await client.stop('SIGTERM', 8000)
})

test('--on-event: a missing script refuses to start; a hanging one is killed and the tunnel keeps working', async () => {
  const missing = await run(group, 'gst-client', process.execPath, [binPath('gst-client'), '--control-dir', controlDir, '--on-event', join(dir, 'nope.sh'), `127.0.0.1:${await freePort()}`, `127.0.0.1:${await freePort()}`, `@${keyFile}`], { env, cwd: dir })
  assert.equal(missing.code, 2)
  assert.equal(missing.stderr, `gst-client: --on-event ${join(dir, 'nope.sh')}: No such file or directory\n`)

  const hang = join(dir, 'hang.sh')
  writeFileSync(hang, '#!/bin/sh\nexec sleep 60\n')
  chmodSync(hang, 0o755)
  const serverPort = await freePort()
  const clientPort = await freePort()
  const server = group.spawnGst('gst-server', ['--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  const client = group.spawnGst('gst-client', ['--control-dir', controlDir, '--on-event', hang, '--on-event-timeout', '0.5', `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  const data = randomData(CHUNK)
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data), 'data flows while the hooks hang')
  await client.waitForLine(/hook session-up: killed after the 500 ms timeout/, 10_000)
  await Promise.all([client.stop('SIGTERM', 8000), server.stop('SIGTERM', 8000)])
})

test('--config: a file equivalent to the flags runs the same pair; flags override the file', async () => {
  const serverPort = await freePort()
  const clientPort = await freePort()
  const metricsPort = await freePort()
  const serverConfig = join(dir, 'server.toml')
  writeFileSync(serverConfig, [
    `listen = "127.0.0.1:${serverPort}"`, `target = "127.0.0.1:${echo.port}"`, `key = "@${keyFile}"`,
    'name = "from-file"', `control-dir = "${controlDir}"`, 'max-sessions = 4', 'rekey = 30', 'log-level = "debug"',
  ].join('\n') + '\n')
  const clientConfig = join(dir, 'client.toml')
  writeFileSync(clientConfig, [
    '# the client, as flags would give it', `listen = "127.0.0.1:${clientPort}"`, `server = "127.0.0.1:${serverPort}"`, `key = "@${keyFile}"`,
    'name = "file-client"', `control-dir = "${controlDir}"`, `metrics = "127.0.0.1:${metricsPort}"`, 'window = "512k"', 'rekey = 60',
  ].join('\n') + '\n')
  const server = group.spawnGst('gst-server', ['--config', serverConfig], { env, cwd: dir })
  await server.waitForLine(/server listening on 127\.0\.0\.1:\d+/, 30_000)
  assert.ok(server.stderrLines.some((l) => / debug /.test(l)), 'log-level = "debug" from the file')
  assert.match(server.stderr, /control socket .*from-file\.sock/)
  // the flag wins over the file's name
  const client = group.spawnGst('gst-client', ['--config', clientConfig, '--name', 'flag-client'], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  assert.match(client.stderr, /control socket .*flag-client\.sock \(gst show flag-client\)/)
  const data = randomData(CHUNK)
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  const x = await scrape(metricsPort)
  assert.equal(sampleValue(x, 'gst_instance_info', { name: 'flag-client' }), 1)
  await Promise.all([client.stop('SIGTERM', 8000), server.stop('SIGTERM', 8000)])
})

test('--config errors: unknown key, wrong type, bad TOML, missing file; each one line, exit 2, before anything listens', async () => {
  const file = join(dir, 'bad.toml')
  const start = async (text: string | undefined, args: string[] = []): Promise<{ code: number | null, stderr: string }> => {
    if (text !== undefined) writeFileSync(file, text)
    return await run(group, 'gst-server', process.execPath, [binPath('gst-server'), '--config', text === undefined ? join(dir, 'absent.toml') : file, ...args], { env, cwd: dir })
  }
  const cases: Array<[string | undefined, RegExp]> = [
    ['rekey = 60\nrekey-interval = 5\n', /^gst-server: config .*bad\.toml: unknown key "rekey-interval" for gst-server; valid keys: listen, target, key, connect-timeout, .*, on-event-timeout\n$/],
    ['rekey = "60s"\n', /^gst-server: config .*bad\.toml: "rekey" takes a number \(e\.g\. 60\), not the string "60s"\n$/],
    ['listen = 43210\n', /^gst-server: config .*bad\.toml: "listen" takes a string \(in double quotes\), not the number 43210\n$/],
    ['rekey = = 3\n', /^gst-server: config .*bad\.toml: line 1, column \d+: .+\n$/],
    [undefined, /^gst-server: couldn't read config .*absent\.toml: No such file or directory\n$/],
    ['rekey = 0\n', /^gst-server: missing arguments: usage: gst-server LISTEN TARGET KEY/],
  ]
  for (const [text, re] of cases) {
    const r = await start(text)
    assert.equal(r.code, 2, r.stderr)
    assert.match(r.stderr, re)
  }
  // values from a file go through the same checks as flags
  const r = await start(`listen = "127.0.0.1:${await freePort()}"\ntarget = "127.0.0.1:1"\nkey = "@${keyFile}"\nrekey = -1\n`)
  assert.equal(r.code, 2)
  assert.match(r.stderr, /^gst-server: --rekey takes a number of seconds greater than 0 \(got "-1"\)\n$/)
})
