/**
 * VPN throughput (DESIGN.md section 9): one iperf3 TCP flow between two namespaces over one
 * unshaped veth, through ttt and over the bare veth in the same run, with the CPU time of the
 * ttt processes (/proc/PID/stat) per Gbit carried. Prints a table and writes
 * bench/out/vpn-throughput.svg (throughput over time, iperf3 -i 0.5).
 *
 *   node dist/bench/vpn.js [--seconds 10] [--runs 1] [--scheduler auto] [--rate 500M]
 *
 * --scheduler is passed to both ttt ends (e.g. `weighted`, which never refuses a packet, to see
 * the data path without `auto`'s queue budget). --rate paces the flow through ttt (iperf3 -b):
 * two builds compared at one packet rate spend CPU per packet on equal batch sizes, whereas an
 * unlimited flow's batches grow and shrink with whatever CPU the machine leaves it.
 */
import { fileURLToPath } from 'node:url'
import { benchArgs } from './lib/bench-args.js'
import {
  VethStar, keygen, startTttServer, startTttClient, stopTtt, iperfServer, iperfClient, ping, loadAverage, writeSvgPlot, table, sleep,
  type IperfResult, type Closing, type Series,
} from './lib/vpn.js'

const args = benchArgs('node dist/bench/vpn.js [--seconds 10] [--runs 1] [--scheduler auto] [--rate 500M]',
  { seconds: 'number', runs: 'number', scheduler: 'string', rate: 'string' })
const SECONDS = args.number('seconds', 10)
const RUNS = args.number('runs', 1)
const SCHEDULER = args.string('scheduler', 'auto')
const EXTRA = SCHEDULER === 'auto' ? [] : ['--scheduler', SCHEDULER]
const rate = args.string('rate', undefined)
const RATE = rate !== undefined ? ['-b', rate] : []
const outDir = fileURLToPath(new URL('../../bench/out/', import.meta.url))

interface Row { name: string, r: IperfResult, cpuClient: number, cpuServer: number, load: string, rttMs: number, client?: Closing, server?: Closing }

function median (xs: number[]): number { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)] ?? NaN }

async function main (): Promise<void> {
  if (process.getuid?.() !== 0) { console.error('bench/vpn: needs root (network namespaces, TUN)'); process.exit(2) }
  const star = VethStar.create(1)
  const cleanup = (): void => star.destroy()
  process.once('SIGINT', () => { cleanup(); process.exit(130) })
  process.once('SIGTERM', () => { cleanup(); process.exit(143) })
  const rows: Row[] = []
  const c = star.spokes[0]!
  const s = star.hub
  try {
    for (let run = 0; run < RUNS; run++) {
      // bare veth
      {
        const load = loadAverage()
        const p = await ping(c, star.hubAddress(0), 20, 0.05)
        const srv = await iperfServer(s, star.hubAddress(0), 5201)
        const r = await iperfClient(c, star.hubAddress(0), 5201, ['-t', String(SECONDS), '-i', '0.5'])
        await srv.exited
        rows.push({ name: 'bare veth', r, cpuClient: NaN, cpuServer: NaN, load, rttMs: median(p.rtts) })
      }
      // through ttt
      {
        const key = keygen()
        const server = startTttServer(s, `${star.hubAddress(0)}:5000`, '10.9.0.1/24', { key, extra: EXTRA })
        await server.waitFor(/listening/)
        const client = startTttClient(c, `${star.hubAddress(0)}:5000`, '10.9.0.2/24', [star.spokeAddress(0)], { key, extra: EXTRA })
        await client.waitFor(/session with .* up/)
        const p = await ping(c, '10.9.0.1', 20, 0.05)
        const srv = await iperfServer(s, '10.9.0.1', 5201)
        await sleep(200)
        const load = loadAverage()
        const cpu0 = [client.cpuSeconds(), server.cpuSeconds()]
        const r = await iperfClient(c, '10.9.0.1', 5201, ['-t', String(SECONDS), '-i', '0.5', ...RATE])
        const cpu1 = [client.cpuSeconds(), server.cpuSeconds()]
        await srv.exited
        const sv = await stopTtt(server)   // first: a client's Close makes the server forget its counters
        const cl = await stopTtt(client)
        rows.push({ name: SCHEDULER === 'auto' ? 'ttt' : `ttt (${SCHEDULER})`, r, cpuClient: cpu1[0]! - cpu0[0]!, cpuServer: cpu1[1]! - cpu0[1]!, load, rttMs: median(p.rtts), client: cl, server: sv })
      }
    }
  } finally {
    cleanup()
  }

  // CPU per inner packet a side handled (read from or written to its TUN): the figure that moves
  // least with the machine's load, which throughput does not.
  const perPacketUs = (cpuS: number, c: Closing | undefined): string => {
    const packets = (c?.tun?.readPackets ?? 0) + (c?.tun?.writePackets ?? 0)
    return packets > 0 ? (cpuS * 1e6 / packets).toFixed(2) : '-'
  }
  const header = ['path', 'Mbit/s (recv)', 'retransmits', 'idle RTT ms (median of 20)', 'ttt CPU s (client+server)', 'CPU s per Gbit', 'CPU us/packet (client, server)', 'load (1/5/15)']
  const body = rows.map((row) => {
    const gbit = row.r.receivedBps * row.r.seconds / 1e9
    const cpu = row.cpuClient + row.cpuServer
    return [row.name, (row.r.receivedBps / 1e6).toFixed(0), String(row.r.retransmits), row.rttMs.toFixed(3),
      Number.isNaN(cpu) ? '-' : `${cpu.toFixed(2)} (${row.cpuClient.toFixed(2)}+${row.cpuServer.toFixed(2)})`,
      Number.isNaN(cpu) ? '-' : (cpu / gbit).toFixed(2),
      Number.isNaN(cpu) ? '-' : `${perPacketUs(row.cpuClient, row.client)}, ${perPacketUs(row.cpuServer, row.server)}`, row.load]
  })
  console.log(`\nVPN throughput: one iperf3 TCP flow${RATE.length > 0 ? ` paced to ${RATE[1]!}bit/s through ttt` : ''}, ${SECONDS} s, two namespaces over one unshaped veth (node ${process.version})\n`)
  console.log(table(header, body))
  for (const row of rows.filter((x) => x.client)) {
    const cp = row.client!.peers[0]
    console.log(`\nttt client: refused ${cp?.refused}, repairs ${cp?.repairs}, reorder ${JSON.stringify(cp?.reorder)}, wait ${JSON.stringify(cp?.wait)}, paths at close ${row.client!.paths.join(' ')}, tun ${JSON.stringify(row.client!.tun)}, udp ${JSON.stringify(row.client!.udp)}`)
    console.log(`ttt server: ${JSON.stringify(row.server!.peers)} tun ${JSON.stringify(row.server!.tun)} errors ${JSON.stringify(row.server!.errors)}`)
  }
  // The bare veth runs at tens of Gbit/s: it gets its own plot so the tunnel's stays readable.
  const seriesOf = (name: string): Series[] => rows.filter((r) => r.name === name).map((row, i) => ({ name: `${row.name}${RUNS > 1 ? ` #${i + 1}` : ''}`, points: row.r.intervals.map((iv) => [iv.end, iv.bitsPerSecond / 1e6] as [number, number]) }))
  const bare = rows.filter((r) => r.name === 'bare veth').map((r) => (r.r.receivedBps / 1e9).toFixed(1)).join(', ')
  const file = `${outDir}vpn-throughput.svg`
  writeSvgPlot(file, `iperf3 TCP through ttt over one veth (bare veth in the same run: ${bare} Gbit/s)`, 'Mbit/s', seriesOf(SCHEDULER === 'auto' ? 'ttt' : `ttt (${SCHEDULER})`))
  writeSvgPlot(`${outDir}vpn-bare-veth.svg`, 'iperf3 TCP over the bare veth', 'Mbit/s', seriesOf('bare veth'))
  console.log(`\nplot: ${file}`)
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
