// A UDP probe run inside a lab namespace by the lab's self-test:
//   node udp-probe.js send BIND_ADDR DST_ADDR PORT COUNT INTERVAL_US  -> prints "started NS", then {"sendNs": ["..", ...]}
//   node udp-probe.js recv BIND_ADDR PORT   -> prints "listening", and {"seqs": [...]} when stdin closes
// Send times are CLOCK_MONOTONIC (process.hrtime.bigint()), the clock the wire schedules cuts on.
import dgram from 'node:dgram'

const [mode, ...args] = process.argv.slice(2)

if (mode === 'recv') {
  const [bind, port] = args
  const socket = dgram.createSocket('udp4')
  const seqs: number[] = []
  socket.on('message', (msg) => { if (msg.length >= 4) seqs.push(msg.readUInt32BE(0)) })
  socket.bind(Number(port), bind, () => {
    process.stdout.write('listening\n')
    process.stdin.resume()
    process.stdin.once('end', () => { process.stdout.write(JSON.stringify({ seqs }) + '\n'); socket.close() })
  })
} else if (mode === 'send') {
  const [bind, dst, port, count, intervalUs] = args
  const total = Number(count)
  const interval = BigInt(Math.round(Number(intervalUs) * 1000))
  const socket = dgram.createSocket('udp4')
  const sendNs: string[] = []
  socket.bind(0, bind, () => socket.connect(Number(port), dst, () => {
    const start = process.hrtime.bigint()
    process.stdout.write(`started ${start}\n`)
    // Timers fire about every millisecond; each tick sends every packet that is due by now.
    const tick = (): void => {
      const now = process.hrtime.bigint()
      while (sendNs.length < total && start + BigInt(sendNs.length) * interval <= now) {
        // A connected socket sends at once, without an address lookup, so the stamp is close.
        const packet = Buffer.alloc(64)
        packet.writeUInt32BE(sendNs.length, 0)
        sendNs.push(String(process.hrtime.bigint()))
        socket.send(packet)
      }
      if (sendNs.length < total) setTimeout(tick, 0)
      else setTimeout(() => { process.stdout.write(JSON.stringify({ sendNs }) + '\n'); socket.close() }, 20)
    }
    tick()
  }))
} else {
  process.stderr.write('usage: udp-probe send BIND DST PORT COUNT INTERVAL_US | recv BIND PORT\n')
  process.exitCode = 2
}
