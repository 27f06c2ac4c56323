/**
 * Where the CPU of a ttt tunnel goes: one iperf3 TCP flow through ttt (the setup of bench/vpn.ts),
 * with `perf record -g` on the ttt client and server (node runs with --perf-basic-prof so JIT
 * frames have names). Prints the top symbols of each side, self time, kernel and user together.
 *
 *   node dist/bench/vpn-profile.js [--seconds 8] [--out DIR] [--cpu-prof]
 *
 * Needs root and `perf`. With --cpu-prof the ttt processes also write V8 .cpuprofile files to DIR.
 */
import { spawn, spawnSync } from 'node:child_process'
import { mkdirSync } from 'node:fs'
import { benchArgs } from './lib/bench-args.js'
import { VethStar, keygen, startTttServer, startTttClient, stopTtt, iperfServer, iperfClient, loadAverage, sleep } from './lib/vpn.js'

const args = benchArgs('node dist/bench/vpn-profile.js [--seconds 8] [--out DIR] [--cpu-prof] [--no-perf] [--scheduler KIND]',
  { seconds: 'number', out: 'string', 'cpu-prof': 'flag', 'no-perf': 'flag', scheduler: 'string' })
const SECONDS = args.number('seconds', 8)
const OUT = args.string('out', '/tmp/ttt-profile')
const CPU_PROF = args.flag('cpu-prof')
const NO_PERF = args.flag('no-perf')
const scheduler = args.string('scheduler', undefined)
const EXTRA = scheduler !== undefined ? ['--scheduler', scheduler] : []

async function main (): Promise<void> {
  if (process.getuid?.() !== 0) { console.error('bench/vpn-profile: needs root'); process.exit(2) }
  mkdirSync(OUT, { recursive: true })
  const star = VethStar.create(1)
  const c = star.spokes[0]!
  const s = star.hub
  try {
    const key = keygen()
    process.env.NODE_OPTIONS = ['--perf-basic-prof-only-functions', ...(CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${OUT}`] : [])].join(' ')
    const server = startTttServer(s, `${star.hubAddress(0)}:5000`, '10.9.0.1/24', { key, extra: EXTRA })
    await server.waitFor(/listening/)
    const client = startTttClient(c, `${star.hubAddress(0)}:5000`, '10.9.0.2/24', [star.spokeAddress(0)], { key, extra: EXTRA })
    await client.waitFor(/session with .* up/)
    delete process.env.NODE_OPTIONS
    const srv = await iperfServer(s, '10.9.0.1', 5201)
    await sleep(200)
    const load = loadAverage()
    const flow = iperfClient(c, '10.9.0.1', 5201, ['-t', String(SECONDS + 3)])
    await sleep(1500)
    const perfs = (NO_PERF ? [] : [['client', client.pid], ['server', server.pid]]).map(([name, pid]) => {
      const file = `${OUT}/perf-${name}.data`
      return { name: String(name), file, proc: spawn('perf', ['record', '-F', '999', '-g', '-o', file, '-p', String(pid), '--', 'sleep', String(SECONDS)], { stdio: 'ignore' }) }
    })
    await Promise.all(perfs.map(async (p) => await new Promise((resolve) => p.proc.once('exit', resolve))))
    const cpu0 = [client.cpuSeconds(), server.cpuSeconds()]
    const r = await flow.catch(async (error: unknown) => {
      for (const p of [client, server]) for (const l of p.lines.slice(-30)) console.log(`${p.name}: ${l}`)
      throw error
    })
    const cpu1 = [client.cpuSeconds(), server.cpuSeconds()]
    await srv.exited
    for (const ns of [c, s]) console.log(ns, spawnSync('ip', ['netns', 'exec', ns, 'nstat', '-az', 'UdpRcvbufErrors', 'UdpSndbufErrors', 'UdpInErrors', 'UdpInDatagrams', 'UdpOutDatagrams', 'TcpRetransSegs'], { encoding: 'utf8' }).stdout)
    const sv = await stopTtt(server)
    const cl = await stopTtt(client)
    console.log(`flow ${(r.receivedBps / 1e6).toFixed(0)} Mbit/s, retransmits ${r.retransmits}, load ${load}; client tun read ${cl.tun?.readPackets}, server tun write ${sv.tun?.writePackets}`)
    if (NO_PERF) console.log(`cpu client ${(cpu1[0]! - cpu0[0]!).toFixed(2)} s, server ${(cpu1[1]! - cpu0[1]!).toFixed(2)} s`)
    console.log(cl.line)
    console.log(sv.line)
    // Every other line the ttt ends logged (handshakes, warnings): what happened besides the flow.
    for (const p of [client, server]) for (const l of p.lines) if (!/closing:/.test(l)) console.log(`${p.name}: ${l}`)
    for (const p of perfs) {
      const rep = spawnSync('perf', ['report', '-i', p.file, '--no-children', '--sort', 'dso,symbol', '--stdio', '--percent-limit', '0.7', '-g', 'none'], { encoding: 'utf8', maxBuffer: 64 << 20 })
      console.log(`\n==== ttt ${p.name} (self time) ====`)
      console.log(rep.stdout.split('\n').filter((l) => l && !l.startsWith('#')).join('\n'))
    }
  } finally {
    star.destroy()
  }
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
