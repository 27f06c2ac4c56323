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

/** Waits for lines of a child's stdout: waitFor(pattern) resolves with the first matching line. */
function lineWaiter (child: ChildProcess): (pattern: RegExp) => Promise<string> {
  const seen: string[] = []
  const waiters: Array<{ pattern: RegExp, resolve: (line: string) => void, reject: (e: Error) => void }> = []
  createInterface({ input: child.stdout! }).on('line', (line) => {
    seen.push(line)
    for (const w of waiters.filter((w) => w.pattern.test(line))) { waiters.splice(waiters.indexOf(w), 1); w.resolve(line) }
  })
  child.once('exit', (code) => {
    for (const w of waiters.splice(0)) w.reject(new Error(`${child.spawnargs.join(' ')} exited (${code}) before printing ${w.pattern}`))
  })
  return (pattern) => {
    const line = seen.find((l) => pattern.test(l))
    if (line !== undefined) return Promise.resolve(line)
    if (child.exitCode !== null) return Promise.reject(new Error(`${child.spawnargs.join(' ')} exited (${child.exitCode}) before printing ${pattern}`))
    return new Promise((resolve, reject) => waiters.push({ pattern, resolve, reject }))
  }
}

/** Sends `count` numbered UDP packets over `link` and returns their send times and which arrived. */
async function probeLink (link: number, port: number, count: number, intervalUs: number, onStarted?: (startNs: bigint) => Promise<void>): Promise<{ sendNs: bigint[], received: Set<number>, order: number[] }> {
  const receiverProcess = lab.spawn('server', process.execPath, [probe, 'recv', lab.serverAddress, String(port)])
  const receiver = lineWaiter(receiverProcess)
  await receiver(/^listening/)
  const sender = lineWaiter(lab.spawn('client', process.execPath, [probe, 'send', lab.clientAddress(link), lab.serverAddress, String(port), String(count), String(intervalUs)]))
  const started = BigInt((await sender(/^started/)).split(' ')[1]!)
  await onStarted?.(started)
  const sendNs = (JSON.parse(await sender(/^\{/)) as { sendNs: string[] }).sendNs.map(BigInt)
  await new Promise((resolve) => setTimeout(resolve, 100))  // the last packets are still on the wire
  receiverProcess.stdin!.end()
  const order = (JSON.parse(await receiver(/^\{/)) as { seqs: number[] }).seqs
  return { sendNs, received: new Set(order), order }
}

test('ping RTT is twice the one-way delay within 1 ms', { skip, timeout: 20_000 }, async () => {
  const { stdout } = await lab.exec('client', 'ping', ['-c', '40', '-i', '0.02', '-I', lab.clientAddress(0), lab.serverAddress])
  const rttsMs = [...stdout.matchAll(/time=([\d.]+) ms/g)].map((m) => Number(m[1])).sort((a, b) => a - b)
  // The median: one echo delayed by a busy host says nothing about the link's delay.
  const medianMs = rttsMs[rttsMs.length >> 1] ?? NaN
  const avgMs = rttsMs.reduce((a, b) => a + b, 0) / rttsMs.length
  console.log(`lab self-test: wire ${lab.realtime ? 'runs' : 'does NOT run'} at real-time priority`)
  console.log(`lab self-test: ping RTT median ${medianMs} ms, mean ${avgMs.toFixed(3)} ms, max ${rttsMs[rttsMs.length - 1]} ms over a ${DELAY_MS} ms one-way link (expected ${2 * DELAY_MS} ms)`)
  assert.equal(rttsMs.length, 40, 'every echo answered')
  assert.ok(Math.abs(medianMs - 2 * DELAY_MS) <= 1, `RTT ${medianMs} ms`)
})

test('iperf3 TCP throughput is the configured rate within 10 %', { skip, timeout: 20_000 }, async () => {
  const server = lineWaiter(lab.spawn('server', 'iperf3', ['-s', '-1', '--forceflush', '-B', lab.serverAddress, '-p', '5201']))
  await server(/listening/i)
  const { stdout } = await lab.exec('client', 'iperf3', ['-c', lab.serverAddress, '-B', lab.clientAddress(0), '-p', '5201', '-t', '5', '-O', '1', '-J'], { timeoutMs: 20_000 })
  const receivedMbit = (JSON.parse(stdout) as { end: { sum_received: { bits_per_second: number } } }).end.sum_received.bits_per_second / 1e6
  const stats = await lab.stats(0)
  console.log(`lab self-test: iperf3 ${receivedMbit.toFixed(2)} Mbit/s over a ${RATE_MBIT} Mbit/s link (queue max ${stats.up.maxQueuePkts} pkts, ${stats.up.dropQueue} droptail drops)`)
  assert.ok(Math.abs(receivedMbit - RATE_MBIT) <= RATE_MBIT * 0.1, `${receivedMbit} Mbit/s`)
})

test('configured loss stays within its binomial bounds', { skip, timeout: 20_000 }, async () => {
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
  // Anything else missing was dropped by an overloaded receiver, not by the link.
  const drawn = after.up.dropLoss - before.up.dropLoss
  assert.ok(drawn <= lost && lost - drawn <= count / 100, `${drawn} loss draws by the wire, ${lost} missing`)
})

test('jitter keeps packet order unless reordering is asked for', { skip, timeout: 20_000 }, async () => {
  const inversions = (seqs: number[]): number => seqs.filter((s, i) => i > 0 && s < seqs[i - 1]!).length
  await lab.set(1, { jitterMs: 4 })
  const ordered = await probeLink(1, 7003, 300, 500)
  await lab.set(1, { reorder: true })
  const reordered = await probeLink(1, 7004, 300, 500)
  await lab.set(1, { jitterMs: 0, reorder: false })
  console.log(`lab self-test: ±4 ms jitter at 2000 packets/s: ${inversions(ordered.order)} inversions kept in order, ${inversions(reordered.order)} with reordering`)
  assert.equal(ordered.received.size, 300)
  assert.equal(inversions(ordered.order), 0)
  assert.ok(inversions(reordered.order) > 10, 'reordering asked for, and seen')
})

test('a scheduled cut blackholes exactly its interval', { skip, timeout: 20_000 }, async () => {
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
  // A packet is stamped just before its sendto(); the wire reads it microseconds later, or
  // a millisecond when a loaded machine preempts the sender in between.
  const slackNs = 2_000_000n
  const lostAt = sendNs.filter((_, seq) => !received.has(seq))
  const unexpected = sendNs.filter((t, seq) => received.has(seq) === (t > cutFrom + slackNs && t < cutUntil - slackNs))
    .filter((t) => t < cutFrom - slackNs || t > cutUntil + slackNs || (t > cutFrom + slackNs && t < cutUntil - slackNs))
  // The blackhole's edges lie between the last packet through and the first one lost, and
  // between the last one lost and the first one through again.
  const ms = (t: bigint): string => (Number(t) / 1e6).toFixed(2)
  const through = sendNs.filter((_, seq) => received.has(seq))
  const firstLost = lostAt[0] ?? 0n
  const lastLost = lostAt[lostAt.length - 1] ?? 0n
  const lastBefore = through.filter((t) => t < firstLost).pop() ?? 0n
  const firstAfter = through.find((t) => t > lastLost) ?? 0n
  console.log(`lab self-test: a ${cutMs} ms cut lost ${lostAt.length} packets; it began ${ms(lastBefore - cutFrom)}..${ms(firstLost - cutFrom)} ms and ended ${ms(lastLost - cutUntil)}..${ms(firstAfter - cutUntil)} ms from the scheduled times`)
  assert.deepEqual(unexpected.map((t) => ms(t - cutFrom)), [], 'only packets sent during the cut are lost, and all of them')
  assert.ok(lastBefore < cutFrom + slackNs && firstLost >= cutFrom - slackNs, 'the cut began on time')
  assert.ok(lastLost <= cutUntil + slackNs && firstAfter > cutUntil - slackNs, 'the cut ended on time')
  assert.equal((await lab.stats(0)).cut, false)
})
