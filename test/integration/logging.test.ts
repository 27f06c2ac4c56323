// Logs of the real pipe binaries with --log-format json at debug level: every stderr line is one
// JSON object with time, level and msg (start, sessions, rekeys, a wrong-key client, a refused
// target, shutdown, and an error that stops a start), and no key, in any encoding, appears in any
// log line of either side, whichever way the key was given (file, env:, argv, passphrase).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { startEchoServer, roundTrip, randomData, sha256 } from '../helpers/net.js'
import { ProcessGroup, binPath, freePort, run, type Daemon } from '../helpers/processes.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-log-'))
const group = new ProcessGroup()
const echo = await startEchoServer()
after(async () => {
  await group.killAll()
  echo.server.close()
  rmSync(dir, { recursive: true, force: true })
})

const key = randomBytes(32)
const wrongKey = randomBytes(32)
const keyFile = join(dir, 'known.key')
writeFileSync(keyFile, key.toString('base64') + '\n', { mode: 0o600 })
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir, GST_TEST_KEY: key.toString('base64') }

const LEVELS = new Set(['debug', 'info', 'warn', 'error'])

interface LogLine { time: string, level: string, msg: string }

/** Parses every line of `stderr` as one JSON log object with the fields we promise; fails on any other line. */
function parseJsonLog (stderr: string, who: string): LogLine[] {
  const lines = stderr.split('\n')
  assert.equal(lines.pop(), '', `${who}: the log ends with a newline`)
  return lines.map((line, i) => {
    let value: unknown
    try { value = JSON.parse(line) } catch { assert.fail(`${who} line ${i + 1} is not JSON: ${line}`) }
    const entry = value as Record<string, unknown>
    assert.deepEqual(Object.keys(entry).sort(), ['level', 'msg', 'time'], `${who} line ${i + 1}: ${line}`)
    assert.equal(typeof entry.time, 'string')
    assert.equal(new Date(entry.time as string).toISOString(), entry.time, `${who} line ${i + 1}: time is ISO 8601 UTC`)
    assert.ok(LEVELS.has(entry.level as string), `${who} line ${i + 1}: level ${String(entry.level)}`)
    assert.ok(typeof entry.msg === 'string' && entry.msg.length > 0 && !entry.msg.includes('\n'), `${who} line ${i + 1}: msg is one non-empty line`)
    return entry as unknown as LogLine
  })
}

/** Every text form a 32-byte key could take in a log line. */
function keyForms (k: Buffer): string[] {
  return [k.toString('base64'), k.toString('base64').replace(/=+$/, ''), k.toString('base64url'), k.toString('hex'), k.toString('hex').toUpperCase(),
    // a slice long enough to be no accident, in case a line cut the key short
    k.toString('hex').slice(0, 16), k.toString('base64').slice(0, 12)]
}

function assertNoKey (text: string, k: Buffer, who: string): void {
  for (const form of keyForms(k)) assert.equal(text.includes(form), false, `${who}: the log contains key material (${form.slice(0, 6)}…)`)
}

/** Waits until `gst show NAME` reports a completed key rotation (rekeys are not logged). */
async function waitForRekeys (name: string): Promise<void> {
  const deadline = Date.now() + 15_000
  for (;;) {
    const r = await run(group, 'gst', process.execPath, [binPath('gst'), 'show', name, '--json'], { env, cwd: dir })
    assert.equal(r.code, 0, r.stderr)
    if ((JSON.parse(r.stdout) as { sessions: Array<{ rekeys: number }> }).sessions[0]!.rekeys >= 2) return
    if (Date.now() > deadline) assert.fail(`no key rotation in ${name}: ${r.stdout}`)
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
}

async function stopAll (...daemons: Daemon[]): Promise<void> {
  for (const d of daemons) {
    const exit = await d.stop()
    assert.equal(exit.code, 0, `${d.name} stopped cleanly (exit ${JSON.stringify(exit)}); stderr:\n${d.stderr}`)
  }
}

test('--log-format json --log-level debug: every line of both sides is one JSON object, and no key appears', async () => {
  const serverPort = await freePort()
  const clientPort = await freePort()
  const badPort = await freePort()
  const deadTarget = await freePort()
  const server = group.spawnGst('gst-server', ['--log-format', 'json', '--log-level', 'debug', '--rekey', '0.5', `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/control socket .*\(gst show /, 30_000)
  // The key as an env: reference on one client, on the command line on another (argv is the worst case).
  const client = group.spawnGst('gst-client', ['--log-format', 'json', '--log-level', 'debug', '--rekey', '0.5', `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, 'env:GST_TEST_KEY'], { env, cwd: dir })
  await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  const wrong = group.spawnGst('gst-client', ['--log-format', 'json', '--log-level', 'debug', `127.0.0.1:${badPort}`, `127.0.0.1:${serverPort}`, wrongKey.toString('base64')], { env, cwd: dir })
  await server.waitForLine(/handshake/, 30_000)
  // A server whose target refuses: a stream reset with its log line.
  const refusingPort = await freePort()
  const refusing = group.spawnGst('gst-server', ['--log-format', 'json', '--log-level', 'debug', `127.0.0.1:${refusingPort}`, `127.0.0.1:${deadTarget}`, key.toString('base64')], { env, cwd: dir })
  await refusing.waitForLine(/control socket .*\(gst show /, 30_000)
  const viaRefusing = await freePort()
  const client2 = group.spawnGst('gst-client', ['--log-format', 'json', '--log-level', 'debug', `127.0.0.1:${viaRefusing}`, `127.0.0.1:${refusingPort}`, `@${keyFile}`], { env, cwd: dir })
  await client2.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  await roundTrip(viaRefusing, Buffer.from('x')).catch(() => undefined)   // reset: the target refuses
  await refusing.waitForLine(/refused|ECONNREFUSED/, 15_000)

  for (let i = 0; i < 3; i++) {
    const data = randomData(256 * 1024)
    assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  }
  await waitForRekeys(`client-${clientPort}`)
  await stopAll(wrong, client, client2, server, refusing)
  // A start that fails after the logger exists: its last words are JSON too.
  const failed = await run(group, 'gst-server', process.execPath, [binPath('gst-server'), '--log-format', 'json', `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${join(dir, 'missing.key')}`], { env, cwd: dir })
  assert.equal(failed.code, 2)

  const logs = { server: server.stderr, client: client.stderr, wrong: wrong.stderr, refusing: refusing.stderr, client2: client2.stderr, failed: failed.stderr }
  const parsed = Object.fromEntries(Object.entries(logs).map(([who, text]) => [who, parseJsonLog(text, who)]))
  const all = Object.values(parsed).flat()
  for (const level of ['debug', 'info', 'warn']) assert.ok(all.some((l) => l.level === level), `some ${level} lines were logged`)
  assert.ok(parsed.failed!.some((l) => l.level === 'error' && /missing\.key/.test(l.msg)), `the failed start's error is a JSON line: ${logs.failed}`)
  assert.ok(parsed.server!.some((l) => /handshake/i.test(l.msg)), 'the wrong-key client left a line on the server')
  assert.ok(parsed.server!.length >= 3 && parsed.client!.length >= 3)

  for (const [who, text] of Object.entries(logs)) {
    assertNoKey(text, key, who)
    assertNoKey(text, wrongKey, who)
  }
})

test('a passphrase never reaches the log either', async () => {
  const passphrase = `correct horse ${randomBytes(6).toString('hex')} staple`
  const port = await freePort()
  const server = group.spawnGst('gst-server', ['--log-format', 'json', '--log-level', 'debug', `127.0.0.1:${port}`, `127.0.0.1:${echo.port}`, passphrase], { env, cwd: dir })
  await server.waitForLine(/control socket .*\(gst show /, 30_000)   // logged once it handles SIGTERM
  await stopAll(server)
  const lines = parseJsonLog(server.stderr, 'server')
  assert.ok(lines.some((l) => l.level === 'warn' && /passphrase/i.test(l.msg)), 'the passphrase warning is logged')
  assert.equal(server.stderr.includes(passphrase), false)
  assert.equal(server.stderr.includes(passphrase.split(' ')[2]!), false, 'not even the random word of it')
})
