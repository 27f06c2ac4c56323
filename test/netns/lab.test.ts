// The lab verifies itself before any figure from it counts (DESIGN.md section 8): delay, rate,
// loss and cut timing, each measured end to end through the namespaces and the wire.
import { test, before, after } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync, type ChildProcess } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { Lab, labUnavailableReason } from '../lab/lab.js'

const probe = fileURLToPath(new URL('../lab/udp-probe.js', import.meta.url))
const skip = labUnavailableReason() ?? (spawnSync('iperf3', ['--version']).status === 0 ? undefined : 'iperf3 is not installed')

const DELAY_MS = 10
const RATE_MBIT = 20
const LOSS_PCT = 5

let lab: Lab

before(async () => {
  if (skip) return
  lab = await Lab.up({
    links: [
      // A bandwidth-delay product of 33 packets: 100 keep the link busy without a huge queue.
      { delayMs: DELAY_MS, rateMbit: RATE_MBIT, queuePkts: 100 },
      { delayMs: 5 },
    ],
  })
})
after(async () => { await lab?.down() })

/** Resolves with the first line of a child's stdout that matches. */
function lineMatching (child: ChildProcess, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! })
    lines.on('line', (line) => { if (pattern.test(line)) { lines.close(); resolve(line) } })
    child.once('exit', (code) => reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before printing ${pattern}`)))
  })
}

/** Sends `count` numbered UDP packets over `link` and returns their send times and which arrived. */
async function probeLink (link: number, port: number, count: number, intervalUs: number, onStarted?: (startNs: bigint) => Promise<void>): Promise<{ sendNs: bigint[], received: Set<number> }> {
  const durationMs = Math.ceil(count * intervalUs / 1000) + 1500
  const receiver = lab.spawn('server', process.execPath, [probe, 'recv', lab.serverAddress, String(port), String(durationMs)])
  const result = lineMatching(receiver, /^\{/)
  await lineMatching(receiver, /^listening/)
  const sender = lab.spawn('client', process.execPath, [probe, 'send', lab.clientAddress(link), lab.serverAddress, String(port), String(count), String(intervalUs)])
  const sent = lineMatching(sender, /^\{/)
  const started = BigInt((await lineMatching(sender, /^started/)).split(' ')[1]!)
  await onStarted?.(started)
  const sendNs = (JSON.parse(await sent) as { sendNs: string[] }).sendNs.map(BigInt)
  const received = new Set((JSON.parse(await result) as { seqs: number[] }).seqs)
  return { sendNs, received }
}

test('ping RTT is twice the one-way delay within 1 ms', { skip }, async () => {
  const { stdout } = await lab.exec('client', 'ping', ['-q', '-c', '20', '-i', '0.02', '-I', lab.clientAddress(0), lab.serverAddress])
  const avgMs = Number(/= [\d.]+\/([\d.]+)\//.exec(stdout)?.[1])
  console.log(`lab self-test: ping RTT ${avgMs} ms over a ${DELAY_MS} ms one-way link (expected ${2 * DELAY_MS} ms)`)
  assert.ok(Math.abs(avgMs - 2 * DELAY_MS) <= 1, `RTT ${avgMs} ms`)
})

test('iperf3 TCP throughput is the configured rate within 10 %', { skip }, async () => {
  const server = lab.spawn('server', 'iperf3', ['-s', '-1', '-B', lab.serverAddress, '-p', '5201'])
  await lineMatching(server, /listening/i)
  const { stdout } = await lab.exec('client', 'iperf3', ['-c', lab.serverAddress, '-B', lab.clientAddress(0), '-p', '5201', '-t', '5', '-O', '1', '-J'], { timeoutMs: 20_000 })
  const receivedMbit = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6
  const stats = await lab.stats(0)
  console.log(`lab self-test: iperf3 ${receivedMbit.toFixed(2)} Mbit/s over a ${RATE_MBIT} Mbit/s link (queue max ${stats.up.maxQueuePkts} pkts, ${stats.up.dropQueue} droptail drops)`)
  assert.ok(Math.abs(receivedMbit - RATE_MBIT) <= RATE_MBIT * 0.1, `${receivedMbit} Mbit/s`)
})

test('configured loss stays within its binomial bounds', { skip }, async () => {
  await lab.set(1, { lossPct: LOSS_PCT, dir: 'up' })
  const before = await lab.stats(1)
  const count = 4000
  const { received } = await probeLink(1, 7001, count, 250)
  const after = await lab.stats(1)
  await lab.set(1, { lossPct: 0 })
  const lost = count - received.size
  const p = LOSS_PCT / 100
  const sigma = Math.sqrt(count * p * (1 - p))
  console.log(`lab self-test: ${lost} of ${count} lost at ${LOSS_PCT} % (expected ${count * p} ± ${(4 * sigma).toFixed(0)} at 4 sigma)`)
  assert.ok(Math.abs(lost - count * p) <= 4 * sigma, `${lost} lost`)
  assert.equal(after.up.dropLoss - before.up.dropLoss, lost, 'every missing packet was a loss draw of the wire')
})

test('a scheduled cut blackholes exactly its interval', { skip }, async () => {
  const cutAfterMs = 200
  const cutMs = 100
  let cutFrom = 0n
  let cutUntil = 0n
  const { sendNs, received } = await probeLink(0, 7002, 500, 1000, async (startNs) => {
    cutFrom = startNs + BigInt(cutAfterMs * 1e6)
    cutUntil = cutFrom + BigInt(cutMs * 1e6)
    await lab.cut(0, cutFrom)
    await lab.restore(0, cutUntil)
  })
  // A packet is stamped just before its sendto(); the wire reads it some microseconds later.
  const slackNs = 1_000_000n
  const lostAt = sendNs.filter((_, seq) => !received.has(seq))
  const unexpected = sendNs.filter((t, seq) => received.has(seq) === (t > cutFrom + slackNs && t < cutUntil - slackNs))
    .filter((t) => t < cutFrom - slackNs || t > cutUntil + slackNs || (t > cutFrom + slackNs && t < cutUntil - slackNs))
  const first = lostAt[0] ?? 0n
  const last = lostAt[lostAt.length - 1] ?? 0n
  console.log(`lab self-test: cut of ${cutMs} ms lost ${lostAt.length} packets sent from ${Number(first - cutFrom) / 1e6} ms to ${Number(last - cutFrom) / 1e6} ms after the scheduled start`)
  assert.deepEqual(unexpected, [], 'only packets sent during the cut are lost, and all of them')
  assert.ok(Number(last - first) / 1e6 >= cutMs - 3 && Number(last - first) / 1e6 <= cutMs, `blackhole ${Number(last - first) / 1e6} ms`)
  assert.equal((await lab.stats(0)).cut, false)
})
