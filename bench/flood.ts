/**
 * Legitimate connect time under a handshake flood (root: namespaces and TUN). A ttt server in
 * one namespace; a flood of replayed INITs from 1000 127.10.x.y addresses on its loopback
 * (test/netns/flood-sender.ts); a ttt client in another namespace started N times, each time
 * timed from its first log line to "session ... up" (the handshake, plus the cookie round trip
 * under load; process start-up excluded). The same without the flood, in the same run, as the
 * baseline. `npm run bench:flood -- [--trials N] [--rate INITS_PER_S]`
 */
import { fileURLToPath } from 'node:url'
import { benchArgs } from './lib/bench-args.js'
import { VethStar, NsProcess, keygen, startTttServer, startTttClient, loadAverage, table } from './lib/vpn.js'

const args = benchArgs('npm run bench:flood -- [--trials 8] [--rate 15000]', { trials: 'number', rate: 'number' })
const trials = args.number('trials', 8)
const rate = args.number('rate', 15_000)
const senderPath = fileURLToPath(new URL('../test/netns/flood-sender.js', import.meta.url))
const PORT = 5000

const stamp = (line: string): number => Date.parse(line.slice(0, 24))

async function connectOnce (star: VethStar, key: string): Promise<{ ms: number, spawnMs: number, cookies: boolean }> {
  const spawnedAt = Date.now()
  const client = startTttClient(star.spokes[0]!, `${star.hubAddress(0)}:${PORT}`, '10.9.0.2/24', [star.spokeAddress(0)], { key })
  try {
    const up = await client.waitFor(/session with .* up/, 20_000)
    const first = client.lines.find((l) => /^\d{4}-/.test(l))!
    return { ms: stamp(up) - stamp(first), spawnMs: stamp(up) - spawnedAt, cookies: client.lines.some((l) => /under handshake load/.test(l)) }
  } finally {
    await client.stop()
  }
}

function stats (xs: number[]): string[] {
  const s = [...xs].sort((a, b) => a - b)
  return [String(s.length), s[Math.floor(s.length / 2)]!.toFixed(0), s.at(-1)!.toFixed(0)]
}

async function main (): Promise<void> {
  const star = VethStar.create(1)
  const procs: NsProcess[] = []
  try {
    const key = keygen()
    const server = startTttServer(star.hub, `0.0.0.0:${PORT}`, '10.9.0.1/24', { key })
    procs.push(server)
    await server.waitFor(/listening/)
    const quiet: number[] = []
    const quietSpawn: number[] = []
    for (let i = 0; i < trials; i++) { const r = await connectOnce(star, key); quiet.push(r.ms); quietSpawn.push(r.spawnMs) }
    const seconds = Math.ceil(trials * 3 + 10)
    const flood = NsProcess.spawn('flood', star.hub, process.execPath, [senderPath, JSON.stringify({ host: '127.0.0.1', port: PORT, key, sources: 1000, ratePerSecond: rate, seconds })])
    procs.push(flood)
    await server.waitFor(/handshake load: over/, 10_000)
    const loaded: number[] = []
    const loadedSpawn: number[] = []
    let withCookie = 0
    while (loaded.length < trials && flood.running) {
      const r = await connectOnce(star, key)
      loaded.push(r.ms)
      loadedSpawn.push(r.spawnMs)
      if (r.cookies) withCookie++
    }
    const report = JSON.parse(await flood.waitFor(/^\{"sent"/, (seconds + 30) * 1000)) as { sent: number, ratePerSecond: number, cookieReplies: number }
    console.log(`ttt client connect time (first log line -> session up; and from process spawn, including Node start-up), ms; load average ${loadAverage()}`)
    console.log(table(['condition', 'connects', 'median ms', 'max ms', 'from spawn: median ms', 'max ms'], [
      ['no flood', ...stats(quiet), ...stats(quietSpawn).slice(1)],
      [`flood ${report.ratePerSecond} INITs/s from 1000 addresses`, ...stats(loaded), ...stats(loadedSpawn).slice(1)],
    ]))
    console.log(`flood: ${report.sent} INITs sent, ${report.cookieReplies} cookie replies read back; ${withCookie} of ${loaded.length} connects under flood proved their address with a cookie`)
  } finally {
    for (const p of procs) p.kill()
    star.destroy()
  }
}

main().catch((err: Error) => { console.error(err.stack ?? err.message); process.exitCode = 1 })
