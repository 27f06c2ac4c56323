/**
 * The VPN soak's load, run as its own process inside the client namespace (bench/soak-vpn.ts):
 *
 *   node soak-vpn-load.js HOST PORT WORKERS MAX_BYTES
 *
 * WORKERS loops, each opening one checked stream after another (bench/soak-streams.ts: random size
 * up to MAX_BYTES, log-uniform; echo compared byte for byte) to an echo server at HOST:PORT through
 * the tunnel. Prints its tally as one JSON line every 2 s, and once more when stdin closes (the
 * soak's "stop"), then exits once the streams in flight are done (at most their 60 s timeout).
 */
import { StreamTally, checkedStream, logUniformSize } from './soak-streams.js'

const [host, portText, workersText, maxText] = process.argv.slice(2)
const port = Number(portText)
const workers = Number(workersText)
const maxBytes = Number(maxText)
if (host === undefined || !(port > 0) || !(workers > 0) || !(maxBytes > 0)) {
  process.stderr.write('usage: soak-vpn-load HOST PORT WORKERS MAX_BYTES\n')
  process.exit(2)
}

const tally = new StreamTally()
let running = true
const report = (): void => { process.stdout.write(JSON.stringify(tally) + '\n') }
const timer = setInterval(report, 2000)
process.stdin.resume()
process.stdin.on('end', () => { running = false })
process.stdin.on('error', () => { running = false })

const loops = Array.from({ length: workers }, async () => {
  while (running) await checkedStream(tally, host, port, logUniformSize(maxBytes))
})
await Promise.all(loops)
clearInterval(timer)
report()
process.exit(0)
