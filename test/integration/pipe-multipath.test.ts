// The pipe over several paths on loopback (127.0.0.1 and 127.0.0.2 are both local): one session
// striped over two TCP subflows, with real sockets. Paths are cut at random while many streams
// run (every byte must arrive, once, in order), joins are forged, replayed and flooded (refused
// and counted, the session carries on), the server is killed and restarted (the client makes a
// new session), a blackholed path keeps memory bounded, and `gst show --json` lists subflows.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { PipeServer, PipeClient, type PipeTunables } from '../../src/pipe/index.js'
import type { PipeClientOptions } from '../../src/pipe/client.js'
import { generateKey } from '../../src/crypto/key.js'
import { HandshakeInitiator, acceptHandshake } from '../../src/crypto/handshake.js'
import { SESSION_PROLOGUE, HelloPurpose, decodeHello, encodeHello } from '../../src/pipe/hello.js'
import { RecordType, encodeHandshakeRecord } from '../../src/pipe/record.js'
import { startEchoServer, roundTrip, sha256, randomData, MemoryLogger, waitFor } from '../helpers/net.js'
import { startPathRelay, type PathRelay } from '../helpers/path-relay.js'
import { ProcessGroup, binPath, freePort, run } from '../helpers/processes.js'
import type { StatusReport } from '../../src/control/status.js'
import { seededRandom as prng } from '../helpers/seeded-random.js'

const PATHS = [{ localAddress: '127.0.0.1' }, { localAddress: '127.0.0.2' }]


interface Fixture {
  key: Buffer
  server: PipeServer
  serverPort: number
  serverLog: MemoryLogger
  relay: PathRelay
  client: PipeClient
  clientPort: number
  clientLog: MemoryLogger
  close(): Promise<void>
}

/** Echo target, server, a path relay in front of it, and a two-path client dialling the relay. */
async function startMultipath (tunables: Partial<PipeTunables> = {}, client: Partial<PipeClientOptions> = {}): Promise<Fixture> {
  const key = generateKey()
  const echo = await startEchoServer()
  const serverLog = new MemoryLogger()
  const server = new PipeServer({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: echo.port }, keys: [key], log: serverLog, tunables, scheduler: client.scheduler ?? 'auto' })
  const serverPort = (await server.start()).port
  const relay = await startPathRelay(serverPort)
  const clientLog = new MemoryLogger()
  const pipeClient = new PipeClient({
    listen: { host: '127.0.0.1', port: 0 }, server: { host: '127.0.0.1', port: relay.port }, key, log: clientLog, paths: PATHS,
    tunables: { reconnectMinMs: 20, reconnectMaxMs: 200, ...tunables }, ...client,
  })
  const clientPort = (await pipeClient.start()).port
  await pipeClient.untilUp()
  await waitFor(() => pipeClient.session?.upSubflows === 2, 5000, 'both paths to join')
  return {
    key, server, serverPort, serverLog, relay, client: pipeClient, clientPort, clientLog,
    async close () {
      await pipeClient.close()
      await relay.close()
      await server.close()
      echo.server.close()
    },
  }
}

test('two paths: many concurrent streams arrive byte-exact while subflows are cut and rejoin at random times', async () => {
  const seed = Number(process.env.GST_TEST_SEED ?? Date.now() % 1_000_000)
  const random = prng(seed)
  const pipe = await startMultipath({}, { scheduler: 'weighted' })
  let cuts = 0
  let stop = false
  try {
    const killer = (async () => {
      while (!stop) {
        await new Promise((resolve) => setTimeout(resolve, 40 + random() * 200))
        if (stop) break
        const session = pipe.client.session
        if (session === undefined || session.upSubflows < 2) continue
        // Half the time the link is cut (the relay drops both ends), half the time the client's socket dies.
        if (random() < 0.5) pipe.relay.cut(random() < 0.5 ? '127.0.0.1' : '127.0.0.2')
        else session.subflows[Math.floor(random() * session.subflows.length)]!.channel.socket.destroy()
        cuts++
      }
    })()
    const sizes = Array.from({ length: 40 }, () => Math.floor(random() * 3_000_000))
    const results = await Promise.all(sizes.map(async (size) => {
      const data = randomData(size)
      return { expected: sha256(data), got: (await roundTrip(pipe.clientPort, data)).sha256 }
    }))
    stop = true
    await killer
    for (const [i, r] of results.entries()) assert.equal(r.got, r.expected, `stream ${i} (seed ${seed})`)
    assert.ok(cuts >= 3, `only ${cuts} cuts happened (seed ${seed})`)
    const session = pipe.client.session!
    assert.ok(session.resentUnits > 0, `frames of lost subflows were re-sent (seed ${seed})`)
    assert.equal(pipe.client.sessionSnapshot()!.id, 1, 'one session throughout: streams never noticed')
    assert.equal(pipe.server.snapshot().sessionsTotal, 1)
    for (const source of ['127.0.0.1', '127.0.0.2']) assert.ok((pipe.relay.bytesFrom.get(source) ?? 0) > 1_000_000, `path ${source} carried data`)
    await waitFor(() => pipe.client.session?.upSubflows === 2, 5000, 'both paths back')
  } finally {
    stop = true
    await pipe.close()
  }
})

/** The captured HELLO of the subflow that joined from 127.0.0.2, and what it says (we hold the PSK, as every client sharing it does). */
function capturedJoin (pipe: Fixture): { record: Buffer, message1: Buffer, hello: ReturnType<typeof decodeHello> } {
  const entry = pipe.relay.hellos.find((h) => h.source === '127.0.0.2')
  assert.ok(entry, 'the join was captured')
  const message1 = entry.record.subarray(5)
  const response = acceptHandshake([pipe.key], SESSION_PROLOGUE, message1)
  assert.ok(response, 'we hold the key, so we can read the hello')
  const hello = decodeHello(response.payload)
  assert.equal(hello.purpose, HelloPurpose.JoinSession)
  return { record: entry.record, message1, hello }
}

/** A timestamp `seconds` later than `timestamp` (TAI64N: 8 bytes of seconds, then nanoseconds). */
function later (timestamp: Buffer, seconds: number): Buffer {
  const out = Buffer.from(timestamp)
  out.writeBigUInt64BE(out.readBigUInt64BE(0) + BigInt(seconds), 0)
  return out
}

/** Sends one HELLO record on a fresh connection to the server and waits for the server to close it. */
async function sendHello (port: number, record: Buffer, localAddress = '127.0.0.1'): Promise<'closed' | 'answered'> {
  return await new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1', localAddress })
    let answered = false
    socket.on('data', () => { answered = true })
    socket.on('error', () => {})
    socket.on('close', () => resolve(answered ? 'answered' : 'closed'))
    socket.on('connect', () => socket.write(record))
    setTimeout(() => socket.destroy(), 5000).unref()
  })
}

test('a replayed join, a lifted proof and a made-up proof are refused and counted; the session carries on', async () => {
  const pipe = await startMultipath()
  try {
    const { record, message1, hello } = capturedJoin(pipe)
    const join = hello.join!
    const before = structuredClone(pipe.server.snapshot().errors)
    const handshakesBefore = pipe.client.snapshot().handshakes

    // Each from its own address: failed handshakes are logged once per address and interval.
    // 1. The captured join, byte for byte, on a new connection.
    assert.equal(await sendHello(pipe.serverPort, record, '127.0.8.1'), 'closed')
    await waitFor(() => (pipe.server.snapshot().errors.replay?.count ?? 0) === (before.replay?.count ?? 0) + 1, 3000, 'the replay to be counted')
    assert.equal(pipe.serverLog.matching(/replayed join/).length, 1)

    // 2. Its proof lifted into a fresh handshake (new ephemeral key, newer timestamp): the proof names the old ephemeral key.
    const lifted = new HandshakeInitiator(pipe.key, SESSION_PROLOGUE, encodeHello({ ...hello, timestamp: later(hello.timestamp, 5), join: { ...join } }))
    assert.notDeepEqual(lifted.message1.subarray(0, 32), message1.subarray(0, 32))
    assert.equal(await sendHello(pipe.serverPort, encodeHandshakeRecord(RecordType.Hello, lifted.message1), '127.0.8.2'), 'closed')
    // 3. A proof made up for the real session id, bound to its own ephemeral key, still without the join key.
    const madeUp = new HandshakeInitiator(pipe.key, SESSION_PROLOGUE, () => encodeHello({ ...hello, timestamp: later(hello.timestamp, 6), join: { ...join, proof: randomData(32) } }))
    assert.equal(await sendHello(pipe.serverPort, encodeHandshakeRecord(RecordType.Hello, madeUp.message1), '127.0.8.3'), 'closed')
    // 4. A join of a session that does not exist.
    const unknown = new HandshakeInitiator(pipe.key, SESSION_PROLOGUE, encodeHello({ ...hello, timestamp: later(hello.timestamp, 7), join: { ...join, sessionId: randomData(8) } }))
    assert.equal(await sendHello(pipe.serverPort, encodeHandshakeRecord(RecordType.Hello, unknown.message1), '127.0.8.4'), 'closed')

    await waitFor(() => (pipe.server.snapshot().errors.handshake?.count ?? 0) === (before.handshake?.count ?? 0) + 3, 3000, 'the three refusals to be counted')
    assert.equal(pipe.serverLog.matching(/with a bad proof/).length, 2)
    assert.equal(pipe.serverLog.matching(/join for an unknown session/).length, 1)
    // The real session never noticed: same session, same two subflows, data flows.
    const data = randomData(2_000_000)
    assert.equal((await roundTrip(pipe.clientPort, data)).sha256, sha256(data))
    assert.equal(pipe.server.snapshot().sessionsTotal, 1)
    assert.equal(pipe.server.sessionSnapshots()[0]!.subflows.length, 2)
    assert.equal(pipe.client.snapshot().handshakes, handshakesBefore, 'no subflow was dropped or re-dialled')
  } finally {
    await pipe.close()
  }
})

test('a flood of bad joins from many addresses does not disturb a running session', async () => {
  const pipe = await startMultipath()
  try {
    const { hello } = capturedJoin(pipe)
    const before = structuredClone(pipe.server.snapshot().errors)
    const handshakesBefore = pipe.client.snapshot().handshakes
    const refusedBefore = (before.handshake?.count ?? 0) + (before.limit?.count ?? 0) + (before.replay?.count ?? 0)
    const data = randomData(20_000_000)
    const transfer = roundTrip(pipe.clientPort, data)
    const FLOOD = 300
    const records = Array.from({ length: FLOOD }, (_, i) => {
      const forged = new HandshakeInitiator(pipe.key, SESSION_PROLOGUE, () => encodeHello({ ...hello, timestamp: later(hello.timestamp, 10 + i), join: { ...hello.join!, proof: randomData(32) } }))
      return encodeHandshakeRecord(RecordType.Hello, forged.message1)
    })
    // From ten source addresses, thirty at a time.
    for (let i = 0; i < FLOOD; i += 30) {
      await Promise.all(records.slice(i, i + 30).map(async (r, j) => await sendHello(pipe.serverPort, r, `127.0.9.${1 + ((i + j) % 10)}`)))
    }
    assert.equal((await transfer).sha256, sha256(data))
    const after = pipe.server.snapshot().errors
    const refused = (after.handshake?.count ?? 0) + (after.limit?.count ?? 0) + (after.replay?.count ?? 0) - refusedBefore
    assert.equal(refused, FLOOD, 'every forged join refused and counted (bad proof, or the per-address handshake limit)')
    assert.ok((after.handshake?.count ?? 0) > (before.handshake?.count ?? 0), 'some reached the proof check')
    assert.equal(pipe.server.sessionSnapshots()[0]!.subflows.length, 2)
    assert.equal(pipe.client.snapshot().handshakes, handshakesBefore, 'no subflow was dropped or re-dialled')
    const warned = pipe.serverLog.matching(/handshake from .* failed/).length
    assert.ok(warned <= 20, `log lines are limited per source (${warned} for ${FLOOD} refusals)`)
  } finally {
    await pipe.close()
  }
})

test('retransmit memory stays under its cap while one path is blackholed; the transfer completes on the other', async () => {
  const CAP = 2 * 1024 * 1024
  const pipe = await startMultipath({ retransmitBufferBytes: CAP }, { scheduler: 'weighted' })
  try {
    const data = randomData(40_000_000)
    const transfer = roundTrip(pipe.clientPort, data)
    await waitFor(() => (pipe.relay.bytesFrom.get('127.0.0.2') ?? 0) > 2_000_000, 10_000, 'path 2 to carry data')
    pipe.relay.blackhole('127.0.0.2', true)
    assert.equal((await transfer).sha256, sha256(data))
    assert.ok(pipe.clientLog.matching(/path 127\.0\.0\.2 lost: no progress/).length >= 1, 'the stalled path was dropped')
    const session = pipe.client.session!
    assert.ok(session.resentUnits > 0, 'its frames went out again on the other path')
    // One local read (64 KiB) may go out beyond the cap before the stream pauses.
    assert.ok(session.peakRetransmitBytes <= CAP + 65_536, `client kept at most ${session.peakRetransmitBytes} bytes (cap ${CAP})`)
    const server = pipe.server.sessionSnapshots()[0]!
    assert.ok(server.peakRetransmitBytes <= CAP + 65_536, `server kept at most ${server.peakRetransmitBytes} bytes (cap ${CAP})`)
    pipe.relay.blackhole('127.0.0.2', false)
  } finally {
    await pipe.close()
  }
})

test('a killed and restarted gst-server: the client makes a new session on its two paths', async (t) => {
  const group = new ProcessGroup()
  const dir = mkdtempSync(join(tmpdir(), 'gst-mp-'))
  t.after(async () => { await group.killAll(); rmSync(dir, { recursive: true, force: true }) })
  const echo = await startEchoServer()
  t.after(() => { echo.server.close() })
  const keyFile = join(dir, 'k')
  assert.equal((await run(group, 'keygen', process.execPath, [binPath('gst'), 'keygen', keyFile])).code, 0)
  const key = Buffer.from((await import('node:fs')).readFileSync(keyFile, 'utf8').trim(), 'base64')
  const port = await freePort()
  const serverArgs = [`127.0.0.1:${port}`, `127.0.0.1:${echo.port}`, `@${keyFile}`]
  const first = group.spawnGst('gst-server', serverArgs)
  await first.waitForLine(/server listening/, 30_000)
  const log = new MemoryLogger()
  const client = new PipeClient({ listen: { host: '127.0.0.1', port: 0 }, server: { host: '127.0.0.1', port }, key, log, paths: PATHS, tunables: { reconnectMinMs: 50, reconnectMaxMs: 300 } })
  const clientPort = (await client.start()).port
  t.after(async () => { await client.close() })
  await waitFor(() => client.session?.upSubflows === 2, 10_000, 'two subflows')
  const data = randomData(1_000_000)
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  await first.stop('SIGKILL')
  await waitFor(() => (client.session?.upSubflows ?? 0) === 0, 5000, 'the client to notice')
  const second = group.spawnGst('gst-server', serverArgs)
  await second.waitForLine(/server listening/, 30_000)
  await waitFor(() => client.sessionSnapshot()?.id === 2 && client.session?.upSubflows === 2, 10_000, 'a new session on both paths')
  assert.ok(log.matching(/join refused .*starting a new one/).length >= 1, log.lines.join('\n'))
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  await waitFor(() => second.stderrLines.filter((l) => /joined \(path 1/.test(l)).length === 1, 5000, 'the second path to join the new session')
})

test('gst show --json lists each session\'s subflows on both sides; bad --path values exit 2 with one line', async (t) => {
  const group = new ProcessGroup()
  const dir = mkdtempSync(join(tmpdir(), 'gst-mp-show-'))
  t.after(async () => { await group.killAll(); rmSync(dir, { recursive: true, force: true }) })
  const echo = await startEchoServer()
  t.after(() => { echo.server.close() })
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir }
  const controlDir = join(dir, 'ctl')
  const keyFile = join(dir, 'k')
  const gst = async (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> => await run(group, 'gst', process.execPath, [binPath('gst'), ...args], { env, cwd: dir })
  assert.equal((await gst(['keygen', keyFile])).code, 0)
  const serverPort = await freePort()
  const clientPort = await freePort()
  const server = group.spawnGst('gst-server', ['--name', 'mps', '--control-dir', controlDir, `127.0.0.1:${serverPort}`, `127.0.0.1:${echo.port}`, `@${keyFile}`], { env, cwd: dir })
  await server.waitForLine(/server listening on/, 30_000)
  const client = group.spawnGst('gst-client', ['--name', 'mpc', '--control-dir', controlDir, '--path', '127.0.0.1', '--path', '127.0.0.2,weight=3', '--scheduler', 'weighted',
    `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
  await client.waitForLine(/path 127\.0\.0\.2 joined/, 30_000)
  const data = randomData(4_000_000)
  assert.equal((await roundTrip(clientPort, data)).sha256, sha256(data))
  const show = async (name: string): Promise<StatusReport> => {
    const r = await gst(['show', name, '--json', '--control-dir', controlDir])
    assert.equal(r.code, 0, r.stderr)
    return JSON.parse(r.stdout) as StatusReport
  }
  const c = await show('mpc')
  const cs = c.sessions[0]!
  assert.equal(cs.scheduler, 'weighted')
  assert.deepEqual(cs.subflows!.map((f) => f.path).sort(), ['127.0.0.1', '127.0.0.2'])
  for (const f of cs.subflows!) {
    assert.equal(f.state, 'up')
    assert.ok(typeof f.rttMs === 'number' && f.rttMs >= 0, `rttMs of ${f.path}`)
    assert.ok(typeof f.cwnd === 'number' && f.cwnd > 0, `cwnd of ${f.path}`)
    assert.ok(typeof f.rateBps === 'number' && f.rateBps > 0, `rateBps of ${f.path}`)
    // (What comes back is the server's to spread: its own scheduler; ACKs at least.)
    assert.ok(f.bytesSent > 100_000 && f.bytesReceived > 0, `bytes of ${f.path}: ${f.bytesSent} sent, ${f.bytesReceived} received`)
    assert.ok(f.local.startsWith(`${f.path}:`), 'each subflow is bound to its path\'s address')
  }
  const p2 = cs.subflows!.find((f) => f.path === '127.0.0.2')!
  const p1 = cs.subflows!.find((f) => f.path === '127.0.0.1')!
  assert.ok(p2.bytesSent > 2 * p1.bytesSent, `weight=3 gives path 2 about three times the bytes (${p2.bytesSent} vs ${p1.bytesSent})`)
  assert.equal(cs.paths!.length, 2)
  assert.deepEqual(c.streams, { active: 0, total: 1, refused: 0 })
  const s = await show('mps')
  assert.equal(s.sessions.length, 1)
  assert.equal(s.sessions[0]!.subflows!.length, 2)
  assert.deepEqual(s.sessions[0]!.subflows!.map((f) => f.pathId).sort(), [0, 1])
  const table = await gst(['show', 'mpc', '--control-dir', controlDir])
  assert.equal(table.code, 0, table.stderr)
  assert.match(table.stdout, /127\.0\.0\.2/)

  for (const [args, message] of [
    [['--path', '999.1.1.1'], /--path "999\.1\.1\.1": "999\.1\.1\.1" is not a local IP address/],
    [['--path', '127.0.0.2,fast'], /--path 127\.0\.0\.2: unknown option "fast"/],
    [['--path', '127.0.0.2', '--path', '127.0.0.2'], /given twice/],
    [['--path', '127.0.0.2,backup'], /every path is a backup/],
    [['--path', '127.0.0.2,rate=lots'], /not a rate/],
    [['--path-timeout', '0'], /--path-timeout takes a number of seconds/],
    [['--scheduler', 'fastest'], /--scheduler must be auto, weighted or redundant/],
  ] as const) {
    const r = await run(group, 'gst-client', process.execPath, [binPath('gst-client'), ...args, '127.0.0.1:0', `127.0.0.1:${serverPort}`, `@${keyFile}`], { env, cwd: dir })
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    const lines = r.stderr.trim().split('\n')
    assert.equal(lines.length, 1, r.stderr)
    assert.match(lines[0]!, message)
  }
})
