// Real clients through real proxies from Debian, carried by the pipe (in-process PipeServer and
// PipeClient, loopback only):
//   curl -x http://CLIENT  ->  PipeClient -> PipeServer -> squid   -> a Node HTTP server
//   curl --socks5 CLIENT   ->  PipeClient -> PipeServer -> microsocks -> a Node HTTP server
// squid, microsocks or curl missing: that test is skipped with the reason (.ci/run installs them).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import http from 'node:http'
import { createHash, randomBytes } from 'node:crypto'
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { PipeServer, PipeClient } from '../../src/pipe/index.js'
import { generateKey } from '../../src/crypto/key.js'
import { MemoryLogger } from '../helpers/net.js'
import { ProcessGroup, findExecutable, freePort, waitForPort, type Daemon } from '../helpers/processes.js'

const curl = findExecutable('curl')
const squid = findExecutable('squid')
const microsocks = findExecutable('microsocks')

const group = new ProcessGroup()
const tempDirs: string[] = []
after(async () => {
  await group.killAll()
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true })
})

/** Files of a few sizes, served by a small Node HTTP server at /NAME. */
const files = new Map<string, Buffer>([
  ['empty', Buffer.alloc(0)],
  ['small', randomBytes(1)],
  ['1k', randomBytes(1000)],
  ['100k', randomBytes(100 * 1024 + 3)],
  ['1m', randomBytes(1 << 20)],
  ['8m', randomBytes(8 * (1 << 20) + 11)],
])
const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex')

async function startHttpServer (): Promise<{ port: number, requests: () => number, close: () => Promise<void> }> {
  let requests = 0
  const server = http.createServer((req, res) => {
    requests++
    const body = files.get((req.url ?? '/').slice(1))
    if (body === undefined) { res.writeHead(404).end('not found\n'); return }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
    res.end(body)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    close: async () => { server.closeAllConnections(); await new Promise<void>((resolve) => server.close(() => resolve())) },
  }
}

/** PipeServer (target: the proxy) and PipeClient in this process; returns the client's port. */
async function startPipe (targetPort: number): Promise<{ clientPort: number, serverLog: MemoryLogger, clientLog: MemoryLogger, server: PipeServer, close: () => Promise<void> }> {
  const key = generateKey()
  const serverLog = new MemoryLogger()
  const clientLog = new MemoryLogger()
  const server = new PipeServer({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: targetPort }, keys: [key], log: serverLog })
  const serverPort = (await server.start()).port
  const client = new PipeClient({ listen: { host: '127.0.0.1', port: 0 }, server: { host: '127.0.0.1', port: serverPort }, key, log: clientLog })
  const clientPort = (await client.start()).port
  await client.untilUp()
  return { clientPort, serverLog, clientLog, server, close: async () => { await client.close(); await server.close() } }
}

/** Runs curl with a clean environment (no *_proxy variables, no ~/.curlrc) and returns its stdout as bytes. */
async function fetch (proxyArgs: string[], url: string): Promise<{ code: number | null, body: Buffer, stderr: string }> {
  const daemon = group.spawn('curl', curl!, ['-q', '--silent', '--show-error', '--fail', '--max-time', '30', ...proxyArgs, url], { env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } })
  const exit = await daemon.exited
  return { code: exit.code, body: daemon.stdoutBytes, stderr: daemon.stderr }
}

async function startSquid (): Promise<{ port: number, daemon: Daemon, dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'gst-squid-'))
  tempDirs.push(dir)
  // squid started as root drops to its cache_effective_user (proxy), which must write the logs here.
  chmodSync(dir, 0o777)
  const port = await freePort()
  const conf = join(dir, 'squid.conf')
  writeFileSync(conf, [
    `http_port 127.0.0.1:${port}`,
    `pid_filename ${join(dir, 'squid.pid')}`,
    `cache_log ${join(dir, 'cache.log')}`,
    `access_log stdio:${join(dir, 'access.log')}`,
    'cache_store_log none',
    `coredump_dir ${dir}`,
    'cache deny all',
    'acl loopback src 127.0.0.0/8',
    'http_access allow loopback',
    'http_access deny all',
    'shutdown_lifetime 0 seconds',
    '',
  ].join('\n'))
  const daemon = group.spawn('squid', squid!, ['-N', '-f', conf])
  await waitForPort(port, 20_000, 'squid').catch((err: Error) => {
    throw new Error(`${err.message}; squid exit ${JSON.stringify(daemon.exit)}; stderr:\n${daemon.stderr}`)
  })
  return { port, daemon, dir }
}

async function startMicrosocks (): Promise<{ port: number, daemon: Daemon }> {
  const port = await freePort()
  const daemon = group.spawn('microsocks', microsocks!, ['-i', '127.0.0.1', '-p', String(port)])
  await waitForPort(port, 10_000, 'microsocks')
  return { port, daemon }
}

const missing = (...tools: Array<[string, string | undefined]>): string | false => {
  const absent = tools.filter(([, path]) => path === undefined).map(([name]) => name)
  return absent.length > 0 ? `${absent.join(' and ')} not installed (apt-get install ${absent.join(' ')}; .ci/run installs them)` : false
}

test('curl -x http through gst-client -> gst-server -> squid: files of several sizes arrive byte-exact', { skip: missing(['curl', curl], ['squid', squid]), timeout: 60_000 }, async (t) => {
  const web = await startHttpServer()
  t.after(async () => await web.close())
  const proxy = await startSquid()
  t.after(async () => { await proxy.daemon.stop('SIGTERM', 3000) })
  const pipe = await startPipe(proxy.port)
  t.after(async () => await pipe.close())

  for (const [name, body] of files) {
    const r = await fetch(['-x', `http://127.0.0.1:${pipe.clientPort}`], `http://127.0.0.1:${web.port}/${name}`)
    assert.equal(r.code, 0, `curl ${name}: ${r.stderr}`)
    assert.equal(r.body.length, body.length, name)
    assert.equal(sha(r.body), sha(body), name)
  }
  // squid really was in the path: it saw the requests, and the pipe carried one stream per curl.
  assert.ok(web.requests() >= files.size)
  assert.ok(pipe.server.snapshot().streamsTotal >= 1)
  const missingFile = await fetch(['-x', `http://127.0.0.1:${pipe.clientPort}`], `http://127.0.0.1:${web.port}/nope`)
  assert.equal(missingFile.code, 22, 'a 404 through the proxy is reported by curl --fail (exit 22)')
  assert.deepEqual(pipe.serverLog.matching(/^(warn|error)/), [])
})

test('50 parallel curl fetches through the pipe and squid all succeed', { skip: missing(['curl', curl], ['squid', squid]), timeout: 60_000 }, async (t) => {
  const web = await startHttpServer()
  t.after(async () => await web.close())
  const proxy = await startSquid()
  t.after(async () => { await proxy.daemon.stop('SIGTERM', 3000) })
  const pipe = await startPipe(proxy.port)
  t.after(async () => await pipe.close())

  const names = [...files.keys()].filter((n) => n !== '8m')
  const jobs = Array.from({ length: 50 }, (_, i) => names[i % names.length]!)
  const results = await Promise.all(jobs.map(async (name) => ({ name, r: await fetch(['-x', `http://127.0.0.1:${pipe.clientPort}`], `http://127.0.0.1:${web.port}/${name}`) })))
  const failed = results.filter(({ name, r }) => r.code !== 0 || sha(r.body) !== sha(files.get(name)!))
  assert.deepEqual(failed.map(({ name, r }) => `${name}: exit ${r.code} ${r.stderr.trim()}`), [])
  assert.ok(pipe.server.snapshot().streamsTotal >= 50, `streams carried: ${pipe.server.snapshot().streamsTotal}`)
})

test('curl --socks5 through gst-client -> gst-server -> microsocks: byte-exact', { skip: missing(['curl', curl], ['microsocks', microsocks]), timeout: 60_000 }, async (t) => {
  const web = await startHttpServer()
  t.after(async () => await web.close())
  const socks = await startMicrosocks()
  t.after(async () => { await socks.daemon.stop('SIGTERM', 3000) })
  const pipe = await startPipe(socks.port)
  t.after(async () => await pipe.close())

  for (const [name, body] of files) {
    const r = await fetch(['--socks5', `127.0.0.1:${pipe.clientPort}`], `http://127.0.0.1:${web.port}/${name}`)
    assert.equal(r.code, 0, `curl ${name}: ${r.stderr}`)
    assert.equal(sha(r.body), sha(body), name)
  }
  // Parallel SOCKS connections too.
  const results = await Promise.all(Array.from({ length: 20 }, async () => await fetch(['--socks5', `127.0.0.1:${pipe.clientPort}`], `http://127.0.0.1:${web.port}/100k`)))
  for (const r of results) {
    assert.equal(r.code, 0, r.stderr)
    assert.equal(sha(r.body), sha(files.get('100k')!))
  }
  assert.deepEqual(pipe.serverLog.matching(/^(warn|error)/), [])
})
