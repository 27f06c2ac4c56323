// The real binaries (dist/cmd/*.js under this node), spawned as a user would run them: keygen, bad
// input, --help, end-to-end data through gst-client -> gst-server, rotation under load, SIGTERM.
import { test, describe, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { AddressInfo } from 'node:net'
import { startEchoServer, roundTrip, sha256 } from '../helpers/net.js'
import { ProcessGroup, RecordHeaderScanner, EpochCounter, binPath, freePort, run, startEpochRelay, type Daemon } from '../helpers/processes.js'

const dir = mkdtempSync(join(tmpdir(), 'gst-cli-test-'))
const tttPath = fileURLToPath(new URL('../../cmd/ttt.js', import.meta.url))
const group = new ProcessGroup()
after(async () => {
  await group.killAll()
  rmSync(dir, { recursive: true, force: true })
})

const KEY_RE = /^[A-Za-z0-9+/]{43}=$/
/** A clean environment: no inherited GST_* or proxy variables. */
const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }

async function gst (name: 'gst' | 'gst-server' | 'gst-client', args: string[], env: Record<string, string> = {}): Promise<{ code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }> {
  return await run(group, name, process.execPath, [binPath(name), ...args], { env: { ...baseEnv, ...env }, cwd: dir })
}

let keyCounter = 0
let sharedKey: Promise<string> | undefined
/** One key file for tests that only need a valid key to get past key loading. */
async function anyKeyFile (): Promise<string> { return await (sharedKey ??= keyFile()) }
/** A key file made by the real `gst keygen FILE`. */
async function keyFile (): Promise<string> {
  const file = join(dir, `k${keyCounter++}.key`)
  const r = await gst('gst', ['keygen', file])
  assert.equal(r.code, 0, r.stderr)
  return file
}

async function startPair (keyServer: string, keyClient: string, targetPort: number, options: { env?: Record<string, string>, flags?: string[], serverPort?: number, waitUp?: boolean } = {}): Promise<{ server: Daemon, client: Daemon, serverPort: number, clientPort: number }> {
  const serverPort = await freePort()
  const clientPort = await freePort()
  const env = { ...baseEnv, ...options.env }
  const flags = options.flags ?? []
  const server = group.spawnGst('gst-server', [...flags, `127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, keyServer], { env, cwd: dir })
  await server.waitForLine(/server listening on 127\.0\.0\.1:\d+/, 30_000)
  const client = group.spawnGst('gst-client', [...flags, `127.0.0.1:${clientPort}`, `127.0.0.1:${options.serverPort ?? serverPort}`, keyClient], { env, cwd: dir })
  await client.waitForLine(/client listening on 127\.0\.0\.1:\d+/, 30_000)
  if (options.waitUp !== false) await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/, 30_000)
  return { server, client, serverPort, clientPort }
}

function assertCleanExit (exit: { code: number | null, signal: NodeJS.Signals | null }, what: string): void {
  const ok = exit.code === 0 || exit.code === 143 || exit.signal === 'SIGTERM'
  assert.ok(ok, `${what} exited with ${JSON.stringify(exit)}`)
}

describe('helpers: RecordHeaderScanner and EpochCounter', () => {
  const sealed = (epoch: number, bodyBytes: number): Buffer => {
    const r = Buffer.alloc(4 + 2 + bodyBytes, 0xee)
    r.writeUInt32BE(2 + bodyBytes, 0)
    r[4] = 3
    r[5] = epoch
    return r
  }
  const hello = (bytes: number): Buffer => {
    const r = Buffer.alloc(4 + 1 + bytes, 0xaa)
    r.writeUInt32BE(1 + bytes, 0)
    r[4] = 1
    return r
  }

  test('reports type and epoch of records in one chunk, split at every byte, and one byte at a time', () => {
    const stream = Buffer.concat([hello(48), sealed(0, 40), sealed(0, 0), sealed(1, 70000), hello(0), sealed(2, 3)])
    const expected = [[1, undefined], [3, 0], [3, 0], [3, 1], [1, undefined], [3, 2]]
    const collect = (chunks: Buffer[]): unknown[] => {
      const seen: unknown[] = []
      const s = new RecordHeaderScanner((type, epoch) => seen.push([type, epoch]))
      for (const c of chunks) s.push(c)
      return seen
    }
    assert.deepEqual(collect([stream]), expected)
    for (let cut = 1; cut < 200; cut++) assert.deepEqual(collect([stream.subarray(0, cut), stream.subarray(cut)]), expected, `cut at ${cut}`)
    const bytes: Buffer[] = []
    for (let i = 0; i < stream.length; i++) bytes.push(stream.subarray(i, i + 1))
    assert.deepEqual(collect(bytes), expected)
  })

  test('EpochCounter counts moves to a new epoch, not late records under the previous one', () => {
    const c = new EpochCounter()
    for (const e of [0, 0, 1, 0, 1, 1, 2, 1, 2, 3, 255, 0]) c.scanner.push(sealed(e, 1))
    // 0->1, 1->2, 2->3, 3->255 count; the final 0 was seen before (within the last 8) and does not.
    assert.equal(c.changes, 4)
  })
})

describe('gst keygen', () => {
  test('prints a 44-character base64 key of 32 bytes', async () => {
    const r = await gst('gst', ['keygen'])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stderr, '')
    const key = r.stdout.trim()
    assert.match(key, KEY_RE)
    assert.equal(Buffer.from(key, 'base64').length, 32)
    const again = await gst('gst', ['keygen'])
    assert.notEqual(again.stdout.trim(), key, 'two keys in a row are different')
  })

  test('keygen FILE writes mode 0600 and refuses to overwrite', async () => {
    const file = join(dir, 'keygen-file.key')
    const r = await gst('gst', ['keygen', file])
    assert.equal(r.code, 0, r.stderr)
    assert.equal(r.stdout, '', 'nothing on stdout when writing a file')
    assert.equal(statSync(file).mode & 0o777, 0o600)
    const key = readFileSync(file, 'utf8')
    assert.match(key.trim(), KEY_RE)
    const second = await gst('gst', ['keygen', file])
    assert.notEqual(second.code, 0)
    assert.equal(second.stderr.trim().split('\n').length, 1, second.stderr)
    assert.match(second.stderr, /exists/)
    assert.equal(readFileSync(file, 'utf8'), key, 'the existing key is untouched')
  })

  test('keygen > file (a shell redirect under umask 022) ends up mode 0600', async () => {
    const file = join(dir, 'redirect.key')
    const r = await run(group, 'sh', '/bin/sh', ['-c', 'umask 022; "$0" "$1" keygen > "$2"', process.execPath, binPath('gst'), file], { env: baseEnv })
    assert.equal(r.code, 0, r.stderr)
    assert.equal(statSync(file).mode & 0o777, 0o600)
    assert.match(readFileSync(file, 'utf8').trim(), KEY_RE)
  })
})

describe('bad input: non-zero exit and one line saying what to fix', () => {
  const cases: Array<{ name: string, bin: 'gst-server' | 'gst-client', args: (key: string) => string[], env?: Record<string, string>, message: RegExp, code?: number }> = [
    { name: 'server: no arguments', bin: 'gst-server', args: () => [], message: /missing arguments.*gst-server LISTEN TARGET KEY/ },
    { name: 'client: missing SERVER and KEY', bin: 'gst-client', args: () => ['127.0.0.1:1080'], message: /missing arguments.*gst-client LISTEN SERVER KEY/ },
    { name: 'server: bad listen port', bin: 'gst-server', args: (k) => ['127.0.0.1:99999', '127.0.0.1:80', k], message: /LISTEN "127\.0\.0\.1:99999".*port must be 1-65535/ },
    { name: 'server: non-numeric target port', bin: 'gst-server', args: (k) => ['127.0.0.1:4000', '127.0.0.1:http', k], message: /TARGET "127\.0\.0\.1:http".*port/ },
    { name: 'client: SERVER is not HOST:PORT', bin: 'gst-client', args: (k) => ['127.0.0.1:4000', 'example.org', k], message: /SERVER "example\.org" is not HOST:PORT/ },
    { name: 'client: IPv6 without brackets', bin: 'gst-client', args: (k) => ['127.0.0.1:4000', '::1:443', k], message: /not HOST:PORT.*\[::1\]/ },
    { name: 'server: --rekey abc', bin: 'gst-server', args: (k) => ['--rekey', 'abc', '127.0.0.1:4000', '127.0.0.1:80', k], message: /--rekey takes a number of seconds.*"abc"/ },
    { name: 'client: --window nonsense', bin: 'gst-client', args: (k) => ['--window', 'lots', '127.0.0.1:4000', '127.0.0.1:80', k], message: /--window takes a size/ },
    { name: 'server: --log-level loud', bin: 'gst-server', args: (k) => ['--log-level', 'loud', '127.0.0.1:4000', '127.0.0.1:80', k], message: /--log-level must be one of/ },
    { name: 'server: missing key file', bin: 'gst-server', args: () => ['127.0.0.1:4000', '127.0.0.1:80', '@no-such.key'], message: /couldn't read key file no-such\.key: no such file/ },
    { name: 'client: key file is a directory (unreadable)', bin: 'gst-client', args: () => ['127.0.0.1:4000', '127.0.0.1:80', `@${dir}`], message: /couldn't read key file .*: is a directory/ },
    { name: 'server: env:UNSET', bin: 'gst-server', args: () => ['127.0.0.1:4000', '127.0.0.1:80', 'env:GST_TEST_UNSET'], message: /GST_TEST_UNSET.*not set/ },
    { name: 'client: env var set but empty', bin: 'gst-client', args: () => ['127.0.0.1:4000', '127.0.0.1:80', 'env:GST_TEST_EMPTY'], env: { GST_TEST_EMPTY: '' }, message: /GST_TEST_EMPTY.*not set/ },
    { name: 'server: empty key file', bin: 'gst-server', args: () => ['127.0.0.1:4000', '127.0.0.1:80', '@empty.key'], message: /key is empty.*gst keygen/ },
  ]
  writeFileSync(join(dir, 'empty.key'), '', { mode: 0o600 })

  for (const c of cases) {
    test(c.name, async () => {
      const key = await anyKeyFile()
      const r = await gst(c.bin, c.args(`@${key}`), c.env)
      assert.equal(r.code, c.code ?? 2, `exit code; stderr: ${r.stderr}`)
      const lines = r.stderr.split('\n').filter((l) => l !== '')
      assert.equal(lines.length, 1, `exactly one line on stderr, got:\n${r.stderr}`)
      assert.ok(lines[0]!.startsWith(`${c.bin}: `), lines[0])
      assert.match(lines[0]!, c.message)
      assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    })
  }

  test('unreadable key file (mode 000, as a non-root user)', { skip: process.getuid?.() === 0 ? 'running as root, which can read a mode-000 file (the directory case covers unreadable keys)' : false }, async () => {
    const key = await keyFile()
    chmodSync(key, 0o000)
    const r = await gst('gst-server', ['127.0.0.1:4000', '127.0.0.1:80', `@${key}`])
    assert.equal(r.code, 2)
    assert.match(r.stderr, /permission denied/)
    assert.equal(r.stderr.trim().split('\n').length, 1)
  })

  test('unknown option: non-zero exit, names the option, no stack', async () => {
    const r = await gst('gst-server', ['--bogus', '127.0.0.1:4000', '127.0.0.1:80', 'x'])
    assert.equal(r.code, 2)
    const lines = r.stderr.trim().split('\n')
    assert.match(lines[0]!, /^gst-server: .*Unknown option `--bogus`/)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  })

  test('unknown option: exactly one line on stderr', async () => {
    const r = await gst('gst-server', ['--bogus', '127.0.0.1:4000', '127.0.0.1:80', 'x'])
    assert.equal(r.code, 2)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
  })

  for (const bin of ['gst-server', 'gst-client'] as const) {
    test(`${bin}: listen port already in use exits 1 with the reason`, async () => {
      const key = await anyKeyFile()
      const blocker = net.createServer()
      await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
      const port = (blocker.address() as AddressInfo).port
      try {
        const r = await gst(bin, [`127.0.0.1:${port}`, '127.0.0.1:9', `@${key}`])
        assert.equal(r.code, 1, r.stderr)
        const lines = r.stderr.split('\n').filter((l) => l !== '')
        assert.equal(lines.length, 1, r.stderr)
        assert.match(lines[0]!, new RegExp(`^${bin}: .*(EADDRINUSE|address already in use).*127\\.0\\.0\\.1:${port}`))
      } finally {
        blocker.close()
      }
    })
  }
})

describe('--help documents every option with its default', () => {
  const optionLines = (help: string): string[] => {
    const start = help.indexOf('Options:')
    assert.ok(start >= 0, `no Options section in:\n${help}`)
    const section = help.slice(start).split('\n').slice(1)
    const end = section.findIndex((l) => l.trim() === '')
    return section.slice(0, end < 0 ? undefined : end).filter((l) => /^\s+-/.test(l))
  }
  const boolean = /^\s+(-h, --help|-v, --version)\s/

  const commands: Array<{ name: string, bin: 'gst' | 'gst-server' | 'gst-client', args: string[], expect: string[] }> = [
    { name: 'gst-server --help', bin: 'gst-server', args: ['--help'], expect: ['--rekey', '--keepalive', '--window', '--max-streams', '--handshake-timeout', '--connect-timeout', '--max-sessions', '--handshake-rate', '--log-level', '--log-format'] },
    { name: 'gst-client --help', bin: 'gst-client', args: ['--help'], expect: ['--rekey', '--keepalive', '--window', '--max-streams', '--handshake-timeout', '--reconnect-max', '--log-level', '--log-format'] },
    { name: 'gst pipe server --help', bin: 'gst', args: ['pipe', 'server', '--help'], expect: ['--rekey', '--window', '--connect-timeout', '--max-sessions', '--log-format'] },
    { name: 'gst pipe client --help', bin: 'gst', args: ['pipe', 'client', '--help'], expect: ['--rekey', '--window', '--reconnect-max', '--log-format'] },
    { name: 'gst --help', bin: 'gst', args: ['--help'], expect: [] },
  ]
  for (const c of commands) {
    test(c.name, async () => {
      const r = await gst(c.bin, c.args)
      assert.equal(r.code, 0, r.stderr)
      assert.equal(r.stderr, '')
      const lines = optionLines(r.stdout)
      for (const line of lines) {
        if (boolean.test(line)) continue
        assert.match(line, /\(default: [^)]+\)/, `option without a default in ${c.name}: ${line}`)
      }
      for (const flag of c.expect) assert.ok(lines.some((l) => l.includes(`${flag} `)), `${c.name} documents ${flag}`)
      if (c.bin === 'gst') {
        if (c.args.length === 1) {
          assert.match(r.stdout, /keygen \[file\]/)
          assert.match(r.stdout, /pipe /)
        }
      } else {
        assert.match(r.stdout, /KEY is @FILE/, 'the key formats are explained')
      }
    })
  }
  test('the defaults shown are the real ones (rekey 60 s, window 1m)', async () => {
    const r = await gst('gst-server', ['--help'])
    assert.match(r.stdout, /--rekey <seconds>.*\(default: 60\)/)
    assert.match(r.stdout, /--window <bytes>.*\(default: 1m\)/)
  })
})

describe('end to end through the real binaries', () => {
  test('keygen to a file, server and client, byte-exact round trip; SIGTERM exits both cleanly', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const key = await keyFile()
    const { server, client, clientPort } = await startPair(`@${key}`, `@${key}`, echo.port)
    for (const size of [0, 1, 1000, 1 << 20, 5 * (1 << 20) + 7]) {
      const data = randomBytes(size)
      const back = await roundTrip(clientPort, data)
      assert.equal(back.bytes, size)
      assert.equal(back.sha256, sha256(data), `size ${size}`)
    }
    await server.waitForLine(/session 127\.0\.0\.1:\d+ up/)
    await client.waitForLine(/session to 127\.0\.0\.1:\d+ up/)
    assert.doesNotMatch(server.stderr + client.stderr, /\b(warn|error)\b/, 'no warnings with a generated key file of mode 0600')
    // A stream still open while the signal arrives must not keep either process alive.
    const open = net.connect(clientPort, '127.0.0.1')
    open.on('error', () => {})
    await new Promise<void>((resolve) => open.once('connect', () => resolve()))
    // stop() sends SIGKILL after 8 s: a clean exit status proves neither waited for the stream
    const [serverExit, clientExit] = await Promise.all([server.stop('SIGTERM', 8000), client.stop('SIGTERM', 8000)])
    open.destroy()
    assertCleanExit(serverExit, 'gst-server')
    assertCleanExit(clientExit, 'gst-client')
    assert.match(server.stderr, /SIGTERM: shutting down/)
    assert.match(client.stderr, /SIGTERM: shutting down/)
  })

  test('the key given as env:NAME', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const key = readFileSync(await keyFile(), 'utf8').trim()
    const { server, client, clientPort } = await startPair('env:GST_TEST_KEY', 'env:GST_TEST_KEY', echo.port, { env: { GST_TEST_KEY: key } })
    const data = randomBytes(300_000)
    assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
    assert.doesNotMatch(server.stderr + client.stderr, /\bwarn\b/)
    assertCleanExit(await server.stop(), 'gst-server')
    assertCleanExit(await client.stop(), 'gst-client')
  })

  test('a passphrase logs that a generated key is better, and works when both sides use it', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const phrase = 'correct horse battery staple'
    const { server, client, clientPort } = await startPair(phrase, phrase, echo.port)
    for (const d of [server, client]) {
      const warning = await d.waitForLine(/\bwarn\b.*passphrase/)
      assert.match(warning, /generated key is (stronger|better)|gst keygen/)
    }
    const data = randomBytes(200_000)
    assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
    assertCleanExit(await server.stop(), 'gst-server')
    assertCleanExit(await client.stop(), 'gst-client')
  })

  test('different passphrases: the handshake fails, the server logs it, the connection gets no data', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const { server, client, clientPort } = await startPair('one passphrase here', 'another passphrase', echo.port, { waitUp: false })
    await server.waitForLine(/handshake from 127\.0\.0\.1:\d+ failed/, 15_000)
    const back = await roundTrip(clientPort, Buffer.from('hello')).catch(() => ({ bytes: 0 }))
    assert.equal(back.bytes, 0)
    await server.stop()
    await client.stop()
  })

  // Like ssh with a private key: any group/other bit on a key file stops the start, with the fix.
  const refusals: Array<{ name: string, bin: 'gst' | 'gst-server' | 'gst-client' | 'ttt', mode: number, args: (key: string) => string[] }> = [
    { name: 'gst-server, mode 0644', bin: 'gst-server', mode: 0o644, args: (k) => ['127.0.0.1:4000', '127.0.0.1:80', `@${k}`] },
    { name: 'gst-client, mode 0640 (group only)', bin: 'gst-client', mode: 0o640, args: (k) => ['127.0.0.1:4000', '127.0.0.1:80', `@${k}`] },
    { name: 'gst-server, mode 0604 (others only)', bin: 'gst-server', mode: 0o604, args: (k) => ['127.0.0.1:4000', '127.0.0.1:80', `@${k}`] },
    { name: 'gst pipe client, mode 0660', bin: 'gst', mode: 0o660, args: (k) => ['pipe', 'client', '127.0.0.1:4000', '127.0.0.1:80', `@${k}`] },
    { name: 'ttt server, mode 0644 (refused before any TUN is opened)', bin: 'ttt', mode: 0o644, args: (k) => ['server', '--listen', '127.0.0.1:0', '--key', `@${k}`] },
    { name: 'ttt client, mode 0601', bin: 'ttt', mode: 0o601, args: (k) => ['client', '--server', '127.0.0.1:5000', '--key', `@${k}`] },
  ]
  for (const c of refusals) {
    test(`a key file readable by others is refused: ${c.name}`, async () => {
      const key = await keyFile()
      chmodSync(key, c.mode)
      const mode = c.mode.toString(8).padStart(4, '0')
      const r = c.bin === 'ttt'
        ? await run(group, 'ttt', process.execPath, [tttPath, ...c.args(key)], { env: baseEnv, cwd: dir })
        : await gst(c.bin, c.args(key))
      assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`)
      assert.equal(r.stderr, `${c.bin}: KEY file ${key} is readable by others (mode ${mode}): chmod 600 ${key}\n`)
      assert.equal(r.stdout, '')
    })
  }

  test('after chmod 600 the same key file works end to end', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const key = await keyFile()
    chmodSync(key, 0o644)
    assert.equal((await gst('gst-server', ['127.0.0.1:4000', '127.0.0.1:80', `@${key}`])).code, 2)
    chmodSync(key, 0o600)
    const { server, client, clientPort } = await startPair(`@${key}`, `@${key}`, echo.port)
    const data = randomBytes(10_000)
    assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
    for (const d of [server, client]) assert.ok(!d.stderrLines.some((l) => /key file/i.test(l)), d.stderrLines.join('\n'))
    await server.stop()
    await client.stop()
  })

  test('--log-format json: every stderr line is a JSON object with time, level, msg', async (t) => {
    const echo = await startEchoServer()
    t.after(() => echo.server.close())
    const key = await keyFile()
    const serverPort = await freePort()
    const server = group.spawnGst('gst-server', ['--log-format', 'json', `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${key}`], { env: baseEnv })
    await server.waitForLine(/listening/)
    await server.stop()
    for (const line of server.stderrLines) {
      const entry = JSON.parse(line) as Record<string, unknown>
      assert.equal(typeof entry.time, 'string')
      assert.ok(['debug', 'info', 'warn', 'error'].includes(entry.level as string))
      assert.equal(typeof entry.msg, 'string')
    }
  })
})

test('an empty connection that half-closes before the session is up still gets its FIN answered', async (t) => {
  const echo = await startEchoServer()
  t.after(() => echo.server.close())
  const key = await anyKeyFile()
  const serverPort = await freePort()
  const server = group.spawnGst('gst-server', [`127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${key}`], { env: baseEnv })
  await server.waitForLine(/listening/)
  // A relay that holds the client's session connection for 1 s, so the test's connection surely
  // arrives while the client is still connecting.
  const sockets = new Set<net.Socket>()
  const slow = net.createServer((down) => {
    sockets.add(down)
    down.pause()
    setTimeout(() => {
      const up = net.connect(serverPort, '127.0.0.1')
      sockets.add(up)
      for (const s of [up, down]) s.on('error', () => {})
      down.pipe(up); up.pipe(down); down.resume()
    }, 1000)
  })
  await new Promise<void>((resolve) => slow.listen(0, '127.0.0.1', resolve))
  t.after(() => { for (const s of sockets) s.destroy(); slow.close() })
  const clientPort = await freePort()
  const client = group.spawnGst('gst-client', [`127.0.0.1:${clientPort}`, `127.0.0.1:${(slow.address() as AddressInfo).port}`, `@${key}`], { env: baseEnv })
  await client.waitForLine(/client listening/)
  const result = await Promise.race([
    roundTrip(clientPort, Buffer.alloc(0)).then((r) => `answered with ${r.bytes} bytes`, (err: Error) => `error ${err.message}`),
    new Promise<string>((resolve) => setTimeout(() => resolve('no FIN within 5 s'), 5000)),
  ])
  await client.stop('SIGKILL')
  await server.stop('SIGKILL')
  assert.equal(result, 'answered with 0 bytes')
})

// 1 GiB by default; GST_TEST_ROTATION_MIB overrides (e.g. on a slow or busy machine).
const ROTATION_MIB = Number(process.env.GST_TEST_ROTATION_MIB ?? 1024)

test(`rotation under load: --rekey 1, ${ROTATION_MIB} MiB through one stream, sha256 exact, no gap over 2 s, rotations seen on the wire`, { timeout: 180_000 }, async (t) => {
  // source -> gst-client -> [relay that reads record headers] -> gst-server -> sink
  const received = createHash('sha256')
  let receivedBytes = 0
  let firstAt = 0
  let lastAt = 0
  let maxGapMs = 0
  let resolveSink: (v: string) => void = () => {}
  const sinkDone = new Promise<string>((resolve) => { resolveSink = resolve })
  const sink = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      const now = performance.now()
      if (firstAt === 0) firstAt = now
      else maxGapMs = Math.max(maxGapMs, now - lastAt)
      lastAt = now
      receivedBytes += chunk.length
      received.update(chunk)
    })
    socket.on('end', () => { socket.end(); resolveSink(received.digest('hex')) })
  })
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve))
  t.after(() => sink.close())
  const sinkPort = (sink.address() as AddressInfo).port

  const key = await keyFile()
  const serverPort = await freePort()
  const server = group.spawnGst('gst-server', ['--rekey', '1', `127.0.0.1:${serverPort}`, `127.0.0.1:${sinkPort}`, `@${key}`], { env: baseEnv })
  await server.waitForLine(/listening/)
  const relay = await startEpochRelay(serverPort)
  t.after(async () => await relay.close())
  const clientPort = await freePort()
  const client = group.spawnGst('gst-client', ['--rekey', '1', `127.0.0.1:${clientPort}`, `127.0.0.1:${relay.port}`, `@${key}`], { env: baseEnv })
  await client.waitForLine(/session to .* up/, 15_000)

  const block = randomBytes(1 << 20)
  const sent = createHash('sha256')
  const totalBlocks = ROTATION_MIB
  const started = performance.now()
  const source = net.connect({ port: clientPort, host: '127.0.0.1', allowHalfOpen: true })
  source.on('data', () => {})
  await new Promise<void>((resolve, reject) => {
    source.once('error', reject)
    source.once('connect', () => {
      let i = 0
      const pump = (): void => {
        while (i < totalBlocks) {
          // A fresh buffer per block, numbered, so a dropped, repeated or reordered block changes the hash.
          const out = Buffer.from(block)
          out.writeUInt32BE(i, 0)
          sent.update(out)
          i++
          if (!source.write(out)) { source.once('drain', pump); return }
        }
        source.end()
        resolve()
      }
      pump()
    })
  })
  const digest = await sinkDone
  const seconds = (performance.now() - started) / 1000
  source.destroy()

  assert.equal(receivedBytes, totalBlocks * (1 << 20))
  assert.equal(digest, sent.digest('hex'))
  t.diagnostic(`${ROTATION_MIB} MiB in ${seconds.toFixed(1)} s (${(ROTATION_MIB * 8 / 1024 / seconds).toFixed(2)} Gbit/s), longest gap ${maxGapMs.toFixed(0)} ms, epoch changes client->server ${relay.toServer.changes}, server->client ${relay.toClient.changes}`)
  assert.ok(maxGapMs < 2000, `longest gap between received chunks was ${maxGapMs.toFixed(0)} ms`)
  // --rekey 1 for the whole transfer: about one rotation a second, in both directions.
  const expected = Math.max(1, Math.floor(seconds / 2))
  assert.ok(relay.toServer.changes >= expected, `client->server key epoch changed ${relay.toServer.changes} times in ${seconds.toFixed(1)} s`)
  assert.ok(relay.toClient.changes >= expected, `server->client key epoch changed ${relay.toClient.changes} times in ${seconds.toFixed(1)} s`)
  assert.doesNotMatch(server.stderr + client.stderr, /\b(warn|error)\b/)
  const [se, ce] = await Promise.all([server.stop(), client.stop()])
  assertCleanExit(se, 'gst-server')
  assertCleanExit(ce, 'gst-client')
})
