// Handshake flood against a real ttt server (root: TUN and namespaces). The flood comes from
// hundreds of 127.10.x.y addresses on the server namespace's loopback while a legitimate client
// connects over a veth and pings through the tunnel. Asserts function, never speed: the client
// got its session (after proving its address with a cookie), its traffic passed, the server
// answered the flood with cookie replies and rate-limited the proven sources. The flood rate
// achieved and the client's connect time are printed (speed lives in `npm run bench:flood`).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { labUnavailableReason } from '../lab/lab.js'
import { VethStar, NsProcess, keygen, startTttServer, startTttClient, stopTtt, ping, tttPath } from '../../bench/lib/vpn.js'
import type { FloodOptions, FloodReport } from './flood-sender.js'

const senderPath = fileURLToPath(new URL('./flood-sender.js', import.meta.url))
const skip = labUnavailableReason() ?? (existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`)
const PORT = 5000

export async function runFlood (ns: string, options: FloodOptions): Promise<{ proc: NsProcess, report: Promise<FloodReport> }> {
  const proc = NsProcess.spawn('flood', ns, process.execPath, [senderPath, JSON.stringify(options)])
  const report = (async () => {
    const line = await proc.waitFor(/^\{"sent"/, (options.seconds + 30) * 1000)
    return JSON.parse(line) as FloodReport
  })()
  return { proc, report }
}

test('a handshake flood of 10,000+ INITs/s from many sources: a legitimate client still connects and passes traffic', { skip, timeout: 90_000 }, async (t) => {
  const star = VethStar.create(1)
  const procs: NsProcess[] = []
  t.after(async () => {
    for (const p of procs) p.kill()
    await Promise.all(procs.map(async (p) => await p.exited))
    star.destroy()
  })
  const key = keygen()
  const server = startTttServer(star.hub, `0.0.0.0:${PORT}`, '10.9.0.1/24', { key })
  procs.push(server)
  await server.waitFor(/listening/)

  const seconds = 8
  const flood = await runFlood(star.hub, { host: '127.0.0.1', port: PORT, key, sources: 1000, ratePerSecond: 15_000, seconds, provenSources: 4, provenRatePerSecond: 200 })
  procs.push(flood.proc)
  await server.waitFor(/handshake load: over/, 20_000)

  const startedMs = performance.now()
  const client = startTttClient(star.spokes[0]!, `${star.hubAddress(0)}:${PORT}`, '10.9.0.2/24', [star.spokeAddress(0)], { key })
  procs.push(client)
  await client.waitFor(/session with .* up/, 15_000)
  const connectMs = performance.now() - startedMs
  const p = await ping(star.spokes[0]!, '10.9.0.1', 10, 0.1)
  const report = await flood.report
  const sv = await stopTtt(server)
  const c = await stopTtt(client)

  t.diagnostic(`flood: ${report.sent} INITs from ${report.sources} sources in ${report.seconds.toFixed(1)} s = ${report.ratePerSecond}/s achieved (${report.sendErrors} send errors); ` +
    `${report.cookieReplies} cookie replies, ${report.responses} handshake responses to replays; proven sources: ${report.provenSent} INITs, ${report.provenCookies} cookies, ${report.provenResponses} responses`)
  t.diagnostic(`legitimate client: session up ${connectMs.toFixed(0)} ms after start (process start included), ping loss ${p.lossPct} %, avg ${p.avgMs} ms; server errors ${JSON.stringify(sv.errors)}, server socket ${JSON.stringify(sv.udp[0])}`)

  // The rate achieved depends on the machine's load (reported above, not asserted); the server
  // must have seen it as load.
  assert.ok(server.lines.some((l) => /handshake load: over/.test(l)), 'the server noticed the load')
  // (The client may count a late reply to an INIT it has since replaced as `handshake`: normal under load.)
  t.diagnostic(`client errors ${JSON.stringify(c.errors)}`)
  assert.ok(client.lines.some((l) => /under handshake load: proving our address/.test(l)), 'the client got a cookie and proved its address')
  // Pings that are lost died in the server's full socket buffer (the flood fills it while a loaded
  // machine schedules the server late); some must pass.
  assert.ok(p.lossPct < 100, `pings through the tunnel during the flood: ${p.lossPct} % lost`)
  // 64 captured INITs, each used once before the flood: the replay guard lets none through twice
  // (those the server had answered with cookies are still fresh when load pauses, hence <=, not ==).
  assert.ok(report.responses <= 64, `no captured INIT got a second handshake (${report.responses} responses for 64 INITs)`)
  assert.ok(report.cookieReplies > report.sent / 4, `the flood was answered with cookies (${report.cookieReplies} of ${report.sent})`)
  assert.ok((sv.errors.cookie ?? 0) >= report.cookieReplies, 'the server counted its cookie replies')
  assert.ok(report.provenCookies > 0 && report.provenResponses > 0, 'proven sources got cookies, then handshakes')
  // Per-source limit: 40 at once, then 20/s per address, whatever the proven sources send.
  const allowed = 4 * (40 + 20 * (report.seconds + 1))
  assert.ok(report.provenResponses <= allowed, `proven sources were rate-limited: ${report.provenResponses} responses to ${report.provenSent} INITs (at most ${allowed} allowed)`)
  assert.ok(server.lines.filter((l) => /cookie|rate limit/.test(l)).length < 50, 'the flood cost a few log lines, not thousands')
})
