// The control socket over real unix sockets in a temporary directory.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ControlServer } from '../../../src/control/control-server.js'
import { requestControl, exchange, ControlUnavailableError, ControlResponseError } from '../../../src/control/control-client.js'
import { MAX_REQUEST_BYTES } from '../../../src/control/protocol.js'
import { UsageError } from '../../../src/errors.js'
import { report } from './fixtures.js'

const root = mkdtempSync(join(tmpdir(), 'gst-control-'))
const servers: ControlServer[] = []
after(async () => {
  for (const s of servers) await s.close()
  rmSync(root, { recursive: true, force: true })
})
let dirs = 0
const freshDir = (): string => join(root, `d${dirs++}`, 'gst')

function make (name: string, dir: string, pid = 4242): ControlServer {
  const server = new ControlServer({ name, dir, status: () => report({ instance: { ...report().instance, name, pid } }) })
  servers.push(server)
  return server
}

/** Sends raw lines on one connection and collects `count` response lines. */
async function converse (path: string, text: string, count: number): Promise<Array<Record<string, unknown>>> {
  return await new Promise((resolve, reject) => {
    const socket = net.connect({ path })
    let buffer = ''
    const lines: Array<Record<string, unknown>> = []
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => {
      buffer += chunk
      let nl
      while ((nl = buffer.indexOf('\n')) >= 0) {
        lines.push(JSON.parse(buffer.slice(0, nl)) as Record<string, unknown>)
        buffer = buffer.slice(nl + 1)
      }
      if (lines.length >= count) { socket.destroy(); resolve(lines) }
    })
    socket.on('error', reject)
    socket.on('close', () => resolve(lines))
    socket.write(text)
  })
}

test('start: directory 0700, socket 0600; status answers; close removes the socket', async () => {
  const dir = freshDir()
  const server = make('office', dir)
  await server.start()
  assert.equal(server.path, join(dir, 'office.sock'))
  assert.equal(statSync(dir).mode & 0o777, 0o700)
  const st = statSync(server.path)
  assert.ok(st.isSocket())
  assert.equal(st.mode & 0o777, 0o600)
  const status = await requestControl(server.path, { cmd: 'status' }) as ReturnType<typeof report>
  assert.equal(status.instance.name, 'office')
  assert.equal(status.version, 1)
  await server.close()
  assert.equal(existsSync(server.path), false)
})

test('protocol: several requests on one connection, ids echoed, unknown command and bad request answered', async () => {
  const server = make('proto', freshDir())
  await server.start()
  const lines = await converse(server.path, '{"cmd":"status","id":1}\n{"cmd":"frobnicate","id":"x"}\nnot json\n{"cmd":"status"}\n', 4)
  assert.equal(lines.length, 4)
  assert.equal(lines[0]!.ok, true)
  assert.equal(lines[0]!.id, 1)
  assert.equal((lines[0]!.result as { instance: { name: string } }).instance.name, 'proto')
  assert.deepEqual(lines[1], { ok: false, id: 'x', code: 'unknown-command', error: 'unknown command "frobnicate" (known: status)' })
  assert.equal(lines[2]!.ok, false)
  assert.equal(lines[2]!.code, 'bad-request')
  assert.equal(lines[3]!.ok, true, 'the connection survives a bad request')
  await assert.rejects(requestControl(server.path, { cmd: 'set' }), (e: unknown) => e instanceof ControlResponseError && e.code === 'unknown-command')
})

test('protocol: a request line over the limit is answered with too-long and the connection closed', async () => {
  const server = make('long', freshDir())
  await server.start()
  const lines = await converse(server.path, 'x'.repeat(MAX_REQUEST_BYTES + 10), 1)
  assert.deepEqual(lines.map((l) => l.code), ['too-long'])
})

test('extra commands can be registered (room for set/path)', async () => {
  const dir = freshDir()
  const server = new ControlServer({ name: 'cmds', dir, status: () => report(), commands: { echo: (r) => ({ said: r.text }) } })
  servers.push(server)
  await server.start()
  assert.deepEqual(await requestControl(server.path, { cmd: 'echo', text: 'hi' }), { said: 'hi' })
  const r = await exchange(server.path, { cmd: 'nope' })
  assert.equal(r.ok, false)
  assert.match(r.ok ? '' : r.error, /known: echo, status/)
})

test('a live instance with the same name refuses the second start, naming the first', async () => {
  const dir = freshDir()
  const first = make('twin', dir, 1111)
  await first.start()
  const second = make('twin', dir, 2222)
  await assert.rejects(second.start(), (e: unknown) => e instanceof UsageError && /a gst instance named "twin" is already running \(pipe-client, pid 1111\)/.test(e.message))
  // the first still answers
  assert.equal((await requestControl(first.path, { cmd: 'status' }) as { instance: { pid: number } }).instance.pid, 1111)
})

test('a stale socket (its process was killed) is removed at start', async () => {
  const dir = freshDir()
  const path = join(dir, 'stale.sock')
  // a process that listens on the path and dies without cleaning up
  const boot = make('boot', dir)
  await boot.start() // creates the directory
  const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`])
  assert.equal(r.signal, 'SIGKILL')
  assert.ok(statSync(path).isSocket(), 'a stale socket was left behind')
  await assert.rejects(requestControl(path, { cmd: 'status' }, { name: 'stale' }), (e: unknown) => e instanceof ControlUnavailableError && e.code === 'ECONNREFUSED' && /stale socket/.test(e.message))
  const server = make('stale', dir)
  await server.start()
  assert.equal((await requestControl(path, { cmd: 'status' }) as { instance: { name: string } }).instance.name, 'stale')
})

test('something that is not a socket at the path is left alone and refused', async () => {
  const dir = freshDir()
  await make('boot2', dir).start()
  writeFileSync(join(dir, 'file.sock'), 'not a socket')
  await assert.rejects(make('file', dir).start(), /exists and is not a socket/)
  assert.ok(existsSync(join(dir, 'file.sock')))
})

test('client: a clear message when no instance runs under the name, and a timeout', async () => {
  const dir = freshDir()
  await assert.rejects(requestControl(join(dir, 'ghost.sock'), { cmd: 'status' }, { name: 'ghost' }),
    (e: unknown) => e instanceof ControlUnavailableError && e.message === `no gst instance named ghost (no socket at ${join(dir, 'ghost.sock')})` && e.code === 'ENOENT')
  // a listener that never answers
  const boot = make('boot3', dir)
  await boot.start()
  const silent = net.createServer(() => {})
  await new Promise<void>((resolve) => silent.listen(join(dir, 'mute.sock'), resolve))
  await assert.rejects(requestControl(join(dir, 'mute.sock'), { cmd: 'status' }, { name: 'mute', timeoutMs: 200 }), /gst instance mute did not answer within 200 ms/)
  // a new instance named like the mute listener does not steal its socket
  await assert.rejects(make('mute', dir).start(), /is in use/)
  silent.close()
})

test('bad names and over-long paths are refused before anything is created', () => {
  assert.throws(() => make('../evil', freshDir()), UsageError)
  assert.throws(() => make('ok', '/' + 'x'.repeat(120)), /longer than 107 bytes/)
})
