/**
 * A packet-level view of one TCP flow, for stall measurements (iperf3's intervals are too coarse):
 *
 *   node tcp-flow.js sink BIND PORT          accepts one connection, timestamps every read
 *                                            (CLOCK_MONOTONIC, the lab's clock), and when it ends prints
 *                                            {"bytes", "firstNs", "lastNs", "gaps": [[atNs, ms], ...] (the 20 longest),
 *                                             "bins": bytes per 100 ms from firstNs}
 *   node tcp-flow.js source HOST PORT SECONDS [BIND]   writes as fast as TCP takes it for SECONDS
 *
 * The sink prints "listening" once ready.
 */
import net from 'node:net'

const [mode, a, b, c, d] = process.argv.slice(2)
const BIN_NS = 100_000_000n

if (mode === 'sink') {
  const server = net.createServer((socket) => {
    let bytes = 0
    let first = 0n
    let last = 0n
    const bins: number[] = []
    const gaps: Array<[string, number]> = []
    socket.on('data', (chunk: Buffer) => {
      const now = process.hrtime.bigint()
      if (first === 0n) first = now
      else {
        const gapMs = Number(now - last) / 1e6
        if (gapMs > 5) gaps.push([String(last), gapMs])
      }
      last = now
      bytes += chunk.length
      const bin = Number((now - first) / BIN_NS)
      while (bins.length <= bin) bins.push(0)
      bins[bin]! += chunk.length
    })
    socket.on('close', () => {
      gaps.sort((x, y) => y[1] - x[1])
      console.log(JSON.stringify({ bytes, firstNs: String(first), lastNs: String(last), gaps: gaps.slice(0, 20), bins }))
      server.close()
    })
    socket.on('error', () => {})
  })
  server.listen(Number(b), a, () => console.log('listening'))
} else if (mode === 'source') {
  const chunk = Buffer.alloc(64 * 1024, 0x5a)
  const socket = net.connect({ host: a!, port: Number(b), ...(d ? { localAddress: d } : {}) })
  const deadline = Date.now() + Number(c) * 1000
  const pump = (): void => {
    while (Date.now() < deadline) if (!socket.write(chunk)) return
    socket.end()
  }
  socket.on('connect', pump)
  socket.on('drain', pump)
  socket.on('error', (e) => { console.error(`source: ${e.message}`); process.exit(1) })
  socket.on('close', () => process.exit(0))
} else {
  console.error('usage: tcp-flow sink BIND PORT | source HOST PORT SECONDS [BIND]')
  process.exit(2)
}
