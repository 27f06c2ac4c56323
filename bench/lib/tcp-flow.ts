/**
 * A packet-level view of one TCP flow, for stall measurements (iperf3's intervals are too coarse):
 *
 *   node tcp-flow.js sink BIND PORT [--no-hash]   accepts one connection, timestamps every read
 *                                            (CLOCK_MONOTONIC, the lab's clock), and when it ends prints
 *                                            {"bytes", "firstNs", "lastNs", "gaps": [[atNs, ms], ...] (the 20 longest),
 *                                             "bins": bytes per 100 ms from firstNs, "sha256": of every byte read}
 *   node tcp-flow.js source HOST PORT SECONDS [BIND] [--no-hash] [--cc NAME]
 *                                            writes as fast as TCP takes it for SECONDS (with congestion
 *                                            control NAME, e.g. cubic, else the namespace's default), then
 *                                            prints {"bytes", "sha256": of every byte written, "cc"}
 *
 * The source's bytes are slices of a random pool at shifting offsets, so a reordered, duplicated
 * or lost chunk changes the hash (a constant pattern would hide reordering). --no-hash leaves
 * sha256 empty, for runs where hashing would compete for the CPU being measured. The sink prints
 * "listening" once ready.
 */
import net from 'node:net'
import { createHash, randomBytes, type Hash } from 'node:crypto'
import { setCongestionControl, getCongestionControl } from '../../src/native/index.js'

const argv = process.argv.slice(2)
const hashing = !argv.includes('--no-hash')
const ccAt = argv.indexOf('--cc')
const cc = ccAt >= 0 ? argv[ccAt + 1] : undefined
const [mode, a, b, c, d] = argv.filter((x, i) => !x.startsWith('--') && (ccAt < 0 || i !== ccAt + 1))
const USAGE = 'usage: tcp-flow sink BIND PORT [--no-hash] | source HOST PORT SECONDS [BIND] [--no-hash] [--cc NAME]'
if (ccAt >= 0 && (cc === undefined || cc.startsWith('--'))) { console.error(`--cc takes an algorithm's name (e.g. cubic)\n${USAGE}`); process.exit(2) }
const BIN_NS = 100_000_000n
const CHUNK = 64 * 1024
const POOL = randomBytes(1024 * 1024 + CHUNK)

const digest = (hash: Hash | undefined): string => hash?.digest('hex') ?? ''

if (mode === 'sink') {
  const server = net.createServer((socket) => {
    let bytes = 0
    let first = 0n
    let last = 0n
    const bins: number[] = []
    const gaps: Array<[string, number]> = []
    const hash = hashing ? createHash('sha256') : undefined
    socket.on('data', (chunk: Buffer) => {
      const now = process.hrtime.bigint()
      if (first === 0n) first = now
      else {
        const gapMs = Number(now - last) / 1e6
        if (gapMs > 5) gaps.push([String(last), gapMs])
      }
      last = now
      bytes += chunk.length
      hash?.update(chunk)
      const bin = Number((now - first) / BIN_NS)
      while (bins.length <= bin) bins.push(0)
      bins[bin]! += chunk.length
    })
    socket.on('close', () => {
      gaps.sort((x, y) => y[1] - x[1])
      console.log(JSON.stringify({ bytes, firstNs: String(first), lastNs: String(last), gaps: gaps.slice(0, 20), bins, sha256: digest(hash) }))
      server.close()
    })
    socket.on('error', () => {})
  })
  server.listen(Number(b), a, () => console.log('listening'))
} else if (mode === 'source') {
  const socket = net.connect({ host: a!, port: Number(b), ...(d ? { localAddress: d } : {}) })
  const deadline = Date.now() + Number(c) * 1000
  const hash = hashing ? createHash('sha256') : undefined
  let bytes = 0
  let k = 0
  const pump = (): void => {
    while (Date.now() < deadline) {
      // 4099 is odd, so the offsets walk through the whole pool before repeating.
      const offset = ((k++) * 4099 * 16) % (POOL.length - CHUNK)
      const chunk = POOL.subarray(offset, offset + CHUNK)
      hash?.update(chunk)
      bytes += chunk.length
      if (!socket.write(chunk)) return
    }
    socket.end()
  }
  let usedCc = ''
  socket.on('connect', () => {
    // Before the first byte: a root caller may pick any algorithm the kernel has, not only the allowed ones.
    try {
      if (cc !== undefined) setCongestionControl(socket, cc)
      usedCc = getCongestionControl(socket)
    } catch (e) { console.error(`source: ${(e as Error).message}`); process.exit(1) }
    pump()
  })
  socket.on('drain', pump)
  socket.on('error', (e) => { console.error(`source: ${e.message}`); process.exit(1) })
  socket.on('close', () => { console.log(JSON.stringify({ bytes, sha256: digest(hash), cc: usedCc })); process.exit(0) })
} else {
  console.error(USAGE)
  process.exit(2)
}
