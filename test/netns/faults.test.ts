// VPN faults (root: namespaces and TUN): the server killed with SIGKILL under traffic and started
// again (the client notices the dead session, makes a new handshake, and traffic resumes; no
// process is left behind).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { labUnavailableReason } from '../lab/lab.js'
import { VethStar, NsProcess, keygen, startTttServer, startTttClient, ping, tttPath, sleep } from '../../bench/lib/vpn.js'

const skip = labUnavailableReason() ?? (existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`)
const PORT = 5000

function isRunning (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

test('kill -9 of the ttt server under traffic, then a restart: the client re-handshakes and traffic resumes', { skip, timeout: 60_000 }, async (t) => {
  const star = VethStar.create(1)
  const procs: NsProcess[] = []
  t.after(async () => {
    for (const p of procs) p.kill()
    await Promise.all(procs.map(async (p) => await p.exited))
    star.destroy()
  })
  const key = keygen()
  const startServer = async (): Promise<NsProcess> => {
    const s = startTttServer(star.hub, `0.0.0.0:${PORT}`, '10.9.0.1/24', { key })
    procs.push(s)
    await s.waitFor(/listening/)
    return s
  }
  const first = await startServer()
  const client = startTttClient(star.spokes[0]!, `${star.hubAddress(0)}:${PORT}`, '10.9.0.2/24', [star.spokeAddress(0)], { key })
  procs.push(client)
  await client.waitFor(/session with .* up/, 15_000)
  assert.equal((await ping(star.spokes[0]!, '10.9.0.1', 5, 0.1)).lossPct, 0)

  // Traffic runs while the server dies: a ping every 100 ms throughout.
  const during = ping(star.spokes[0]!, '10.9.0.1', 120, 0.1).catch(() => ({ lossPct: 100, avgMs: 0, maxMs: 0, minMs: 0, rtts: [] }))
  await sleep(1000)
  const killedPid = first.pid
  first.kill()
  await first.exited
  await sleep(1000)
  await startServer()
  const upLines = (): number => client.lines.filter((l) => /session with .* up/.test(l)).length
  const deadline = Date.now() + 20_000
  while (upLines() < 2 && Date.now() < deadline) await sleep(100)
  assert.equal(upLines(), 2, 'the client made a new session with the restarted server')
  const after = await ping(star.spokes[0]!, '10.9.0.1', 10, 0.1)
  const whole = await during
  t.diagnostic(`pings across the kill and restart: ${whole.lossPct} % lost of 120 (the outage); after recovery: ${after.lossPct} % lost`)
  // None lost: a restarted server's sequences start again at 0, and the client's new session takes
  // them as they come (Peer.startSession). Before that, the client's reorder buffer dropped them
  // as duplicates of what the old server had sent, for as many packets as each flow had carried.
  assert.equal(after.lossPct, 0, `traffic resumed after the restart (${after.lossPct} % of 10 pings lost)`)
  assert.ok(whole.lossPct < 100, 'traffic before and after the outage passed')
  assert.equal(client.running, true, 'the client never exited')
  assert.equal(isRunning(killedPid), false, 'the killed server is gone')
})
