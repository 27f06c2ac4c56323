// VPN faults (root: namespaces and TUN): the server killed with SIGKILL under traffic and started
// again (the client notices the dead session, makes a new handshake, and traffic resumes; no
// process is left behind); the TUN removed under a running ttt (it exits with status 1 and one
// line: ttt does not recreate it); a path's interface going down and up; wall-clock jumps.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, mkdirSync, mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Lab, labUnavailableReason } from '../lab/lab.js'
import { VethStar, NsProcess, keygen, startTttServer, startTttClient, stopTtt, ping, tttPath, sleep, nsExec } from '../../bench/lib/vpn.js'
import { ProcessGroup, type Daemon } from '../helpers/processes.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'
import type { StatusReport } from '../../src/control/status.js'

const skip = labUnavailableReason() ?? (existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`)
const PORT = 5000

function isRunning (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/**
 * One hub (servers) and one spoke (the client), torn down after the test even when it fails.
 * `startServer` starts a ttt server on the hub (all addresses, or `address`); `startClient` the
 * client towards `server` (default: the hub's address) and waits for its session.
 */
function serverAndClient (t: TestContext): {
  star: VethStar
  onClose: (fn: () => void) => void
  startServer: (address?: string) => Promise<NsProcess>
  startClient: (server?: string) => Promise<NsProcess>
  sessionsUp: (client: NsProcess) => number
  untilSessions: (client: NsProcess, count: number, timeoutMs: number) => Promise<void>
} {
  const star = VethStar.create(1)
  const procs: NsProcess[] = []
  const closers: Array<() => void> = []
  t.after(async () => {
    for (const p of procs) p.kill()
    await Promise.all(procs.map(async (p) => await p.exited))
    star.destroy()
    for (const close of closers) close()
  })
  const key = keygen()
  const sessionsUp = (client: NsProcess): number => client.lines.filter((l) => /session with .* up/.test(l)).length
  return {
    star,
    onClose: (fn) => { closers.push(fn) },
    startServer: async (address = '0.0.0.0') => {
      const server = startTttServer(star.hub, `${address}:${PORT}`, '10.9.0.1/24', { key })
      procs.push(server)
      await server.waitFor(/listening/)
      return server
    },
    startClient: async (server = `${star.hubAddress(0)}:${PORT}`) => {
      const client = startTttClient(star.spokes[0]!, server, '10.9.0.2/24', [star.spokeAddress(0)], { key })
      procs.push(client)
      await client.waitFor(/session with .* up/, 15_000)
      return client
    },
    sessionsUp,
    untilSessions: async (client, count, timeoutMs) => {
      const deadline = Date.now() + timeoutMs
      while (sessionsUp(client) < count && Date.now() < deadline) await sleep(100)
    },
  }
}

test('kill -9 of the ttt server under traffic, then a restart: the client re-handshakes and traffic resumes', { skip, timeout: 60_000 }, async (t) => {
  const { star, startServer, startClient, sessionsUp, untilSessions } = serverAndClient(t)
  const first = await startServer()
  const client = await startClient()
  assert.equal((await ping(star.spokes[0]!, '10.9.0.1', 5, 0.1)).lossPct, 0)

  // Traffic runs while the server dies: a ping every 100 ms throughout.
  const during = ping(star.spokes[0]!, '10.9.0.1', 120, 0.1).catch(() => ({ lossPct: 100, avgMs: 0, maxMs: 0, minMs: 0, rtts: [] }))
  await sleep(1000)
  const killedPid = first.pid
  first.kill()
  await first.exited
  await sleep(1000)
  await startServer()
  await untilSessions(client, 2, 20_000)
  assert.equal(sessionsUp(client), 2, 'the client made a new session with the restarted server')
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

test('a ttt server stopped cleanly (SIGTERM) tells its client, which handshakes again as soon as a new server is up', { skip, timeout: 60_000 }, async (t) => {
  const { star, startServer, startClient, sessionsUp, untilSessions } = serverAndClient(t)
  const first = await startServer()
  const client = await startClient()
  await first.stop()
  await client.waitFor(/closed the session: it is shutting down; handshaking again/, 5_000)
  await startServer()
  await untilSessions(client, 2, 15_000)
  assert.equal(sessionsUp(client), 2, 'the client made a new session with the new server')
  const after = await ping(star.spokes[0]!, '10.9.0.1', 10, 0.1)
  assert.equal(after.lossPct, 0, `traffic resumed after the restart (${after.lossPct} % of 10 pings lost)`)
  assert.equal(client.running, true, 'the client never exited')
})

test('a server that moved to another address under its name (dynamic DNS): the client looks the name up again while unanswered and follows it', { skip, timeout: 60_000 }, async (t) => {
  const { star, onClose, startServer, startClient, sessionsUp, untilSessions } = serverAndClient(t)
  // `ip netns exec` puts /etc/netns/NS/hosts over /etc/hosts for what runs in NS: the client's "DNS".
  const etc = `/etc/netns/${star.spokes[0]!}`
  onClose(() => rmSync(etc, { recursive: true, force: true }))
  const [oldAddress, newAddress] = [star.hubAddress(0), star.hubAddress(0).replace(/\.2$/, '.3')]
  await nsExec(star.hub, 'ip', ['addr', 'add', `${newAddress}/24`, 'dev', `${star.prefix}b0`])
  mkdirSync(etc, { recursive: true })
  const hosts = (address: string): void => writeFileSync(`${etc}/hosts`, `127.0.0.1 localhost\n${address} ttt-server.test\n`)
  hosts(oldAddress)
  const first = await startServer(oldAddress)
  const client = await startClient(`ttt-server.test:${PORT}`)
  await first.stop()
  hosts(newAddress)
  await startServer(newAddress)
  const moved = await client.waitFor(/ttt-server\.test now resolves to/, 20_000)
  assert.ok(moved.includes(`${newAddress}:${PORT} (was ${oldAddress}:${PORT})`), moved)
  await untilSessions(client, 2, 10_000)
  assert.equal(sessionsUp(client), 2, `a session with the moved server: ${client.text.slice(-1500)}`)
  const after = await ping(star.spokes[0]!, '10.9.0.1', 10, 0.1)
  assert.equal(after.lossPct, 0, `traffic through the moved server (${after.lossPct} % of 10 pings lost)`)
  // Its paths are named after the server they now talk to (logs, `ttt show`, the closing line).
  const closing = await stopTtt(client)
  assert.ok(closing.paths.length === 1 && closing.paths.every((p) => p.includes(`→${newAddress}:${PORT}:`)), `path names follow the move: ${closing.paths.join(' ')}`)
})

// ---- TUN removed, a path's interface down and up, wall-clock jumps (every process in a ProcessGroup)

const LIBFAKETIME = ['/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1', '/usr/lib/faketime/libfaketime.so.1'].find(existsSync)

/** ttt (or any command) inside namespace `ns`, under the group: killed by killAll even on failure. */
function inNs (group: ProcessGroup, name: string, ns: string, command: string, args: string[], env: NodeJS.ProcessEnv = {}): Daemon {
  return group.spawn(name, 'ip', ['netns', 'exec', ns, command, ...args], { env: { ...process.env, ...env } })
}

function ttt (group: ProcessGroup, name: string, ns: string, args: string[], key: string, env: NodeJS.ProcessEnv = {}): Daemon {
  return inNs(group, name, ns, process.execPath, [tttPath, ...args, '--key', 'env:TTT_TEST_KEY'], { TTT_TEST_KEY: key, ...env })
}

async function untilTrue (what: string, ok: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!await ok()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

test('TUN removed under a running ttt (ip link del): one error line naming it, exit status 1; the other end goes on, and a restarted client works', { skip, timeout: 60_000 }, async (t) => {
  const star = VethStar.create(1)
  const group = new ProcessGroup()
  t.after(async () => { await group.killAll(); star.destroy() })
  const key = keygen()
  const spoke = star.spokes[0]!
  const server = ttt(group, 'ttt server', star.hub, ['server', '--listen', `0.0.0.0:${PORT}`, '--address', '10.9.0.1/24', '--tun', 'tfault0'], key)
  await server.waitForLine(/listening/, 15_000)
  const clientArgs = ['client', '--server', `${star.hubAddress(0)}:${PORT}`, '--address', '10.9.0.2/24', '--path', star.spokeAddress(0), '--tun', 'tfault1']
  const client = ttt(group, 'ttt client', spoke, clientArgs, key)
  await client.waitForLine(/session with .* up/, 15_000)
  assert.equal((await ping(spoke, '10.9.0.1', 3, 0.1)).lossPct, 0)

  await nsExec(spoke, 'ip', ['link', 'del', 'tfault1'])
  const exit = await Promise.race([client.exited, sleep(10_000).then(() => undefined)])
  assert.deepEqual(exit, { code: 1, signal: null }, 'the client exited with status 1')
  const gone = client.stderrLines.filter((l) => /TUN tfault1 is gone/.test(l))
  assert.equal(gone.length, 1, `one line names the removed TUN: ${client.stderr.slice(-600)}`)
  assert.match(gone[0]!, /error/)
  assert.equal(server.exit, undefined, 'the server goes on')

  // The operator (or systemd's Restart=on-failure) starts it again: a new TUN, a new session.
  const again = ttt(group, 'ttt client again', spoke, clientArgs, key)
  await again.waitForLine(/session with .* up/, 15_000)
  assert.equal((await ping(spoke, '10.9.0.1', 3, 0.1)).lossPct, 0, 'traffic through the new client')

  await nsExec(star.hub, 'ip', ['link', 'del', 'tfault0'])
  const serverExit = await Promise.race([server.exited, sleep(10_000).then(() => undefined)])
  assert.deepEqual(serverExit, { code: 1, signal: null }, 'the server exited with status 1 once its TUN was removed')
  assert.equal(server.stderrLines.filter((l) => /TUN tfault0 is gone/.test(l)).length, 1)
})

test('a lab path interface going down and up under ping: one line each way, the other path carries the traffic, the path comes back', { skip, timeout: 60_000 }, async (t) => {
  const lab = await Lab.up({ links: [{ delayMs: 2 }, { delayMs: 4 }] })
  const group = new ProcessGroup()
  t.after(async () => { await group.killAll(); await lab.down() })
  const key = keygen()
  const client = lab.namespaces.client
  const server = ttt(group, 'ttt server', lab.namespaces.server, ['server', '--listen', `${lab.serverAddress}:${PORT}`, '--address', '10.9.0.1/24'], key)
  await server.waitForLine(/listening/, 15_000)
  const tttClient = ttt(group, 'ttt client', client, ['client', '--server', `${lab.serverAddress}:${PORT}`, '--address', '10.9.0.2/24',
    '--path', lab.clientAddress(0), '--path', lab.clientAddress(1), '--name', 'ifdown', '--control-dir', group.controlDir], key)
  await tttClient.waitForLine(/session with .* up/, 15_000)
  const pathState = async (id: number): Promise<string | undefined> => {
    const report = await requestControl(socketPath(group.controlDir, 'ifdown'), { cmd: 'status' }) as StatusReport
    return report.sessions[0]?.paths?.find((p) => Number(p.id.split('/').at(-1)) === id)?.state
  }
  await untilTrue('both paths up', async () => (await pathState(0)) === 'up' && (await pathState(1)) === 'up', 10_000)
  const pings = ping(client, '10.9.0.1', 80, 0.1)
  await sleep(1000)
  const tun1 = lab.links[1]!.clientTun
  await nsExec(client, 'ip', ['link', 'set', tun1, 'down'])
  await untilTrue('path 1 down', async () => (await pathState(1)) === 'down', 10_000)
  await sleep(1000)
  // Up again. Taking a link down drops its routes; as a network manager would, put them back.
  await nsExec(client, 'ip', ['link', 'set', tun1, 'up'])
  await nsExec(client, 'ip', ['route', 'replace', `${lab.serverAddress}/32`, 'dev', tun1, 'table', String(lab.links[1]!.table)])
  await untilTrue('path 1 up again', async () => (await pathState(1)) === 'up', 10_000)
  const result = await pings
  t.diagnostic(`pings while path 1 went down and up: ${result.lossPct} % of 80 lost; client log: ${tttClient.stderrLines.filter((l) => /path /.test(l)).join(' | ')}`)
  assert.equal(tttClient.exit, undefined, 'the client goes on')
  const downLines = tttClient.stderrLines.filter((l) => new RegExp(`path ${lab.clientAddress(1)}\\S* down`).test(l))
  const upLines = tttClient.stderrLines.filter((l) => new RegExp(`path ${lab.clientAddress(1)}\\S* (up|degraded|backup) again`).test(l))
  assert.equal(downLines.length, 1, 'one line when the path went down')
  assert.equal(upLines.length, 1, 'one line when it came back')
  assert.ok(result.lossPct <= 5, `path 0 carried the pings (${result.lossPct} % lost)`)
})

test('ttt with wall-clock jumps: server 3 h behind, client stepping back 5 h and forward 5 h, keys rotating every second: one session throughout, traffic and rotations go on', { skip: skip ?? (LIBFAKETIME === undefined ? 'libfaketime is not installed (apt-get install faketime)' : undefined), timeout: 60_000 }, async (t) => {
  // ttt makes a new handshake only when its session dies (a cut of the link does not kill it: the
  // session resumes), so the handshake timestamps after a step are covered by the pipe's clock test
  // (the same MonotonicTimestamps); here the running tunnel's rotations must not care.
  const lab = await Lab.up({ links: [{ delayMs: 2 }] })
  const group = new ProcessGroup()
  const dir = mkdtempSync(join(tmpdir(), 'ttt-clock-'))
  const clockFile = join(dir, 'faketime')
  writeFileSync(clockFile, '+0\n')
  t.after(async () => { await group.killAll(); await lab.down(); rmSync(dir, { recursive: true, force: true }) })
  const faked = (spec: Record<string, string>): NodeJS.ProcessEnv => ({ LD_PRELOAD: LIBFAKETIME!, FAKETIME_DONT_FAKE_MONOTONIC: '1', ...spec })
  const key = keygen()
  const client = lab.namespaces.client
  const server = ttt(group, 'ttt server', lab.namespaces.server, ['server', '--listen', `${lab.serverAddress}:${PORT}`, '--address', '10.9.0.1/24', '--rekey', '1'], key, faked({ FAKETIME: '-3h' }))
  await server.waitForLine(/listening/, 15_000)
  const tttClient = ttt(group, 'ttt client', client, ['client', '--server', `${lab.serverAddress}:${PORT}`, '--address', '10.9.0.2/24', '--path', lab.clientAddress(0), '--rekey', '1',
    '--name', 'clock', '--control-dir', group.controlDir], key, faked({ FAKETIME_TIMESTAMP_FILE: clockFile, FAKETIME_NO_CACHE: '1' }))
  await tttClient.waitForLine(/session with .* up/, 15_000)
  const rekeys = async (): Promise<number> => ((await requestControl(socketPath(group.controlDir, 'clock'), { cmd: 'status' }) as StatusReport).sessions[0]?.rekeys ?? 0)
  const seen: number[] = [await rekeys()]
  for (const step of ['-5h', '+5h']) {
    writeFileSync(clockFile, `${step}\n`)
    await sleep(2500) // two rotations or more across the step
    assert.equal((await ping(client, '10.9.0.1', 5, 0.1)).lossPct, 0, `traffic after the step to ${step}`)
    seen.push(await rekeys())
  }
  t.diagnostic(`rotations at start, after -5h, after +5h: ${seen.join(', ')}`)
  assert.ok(seen[1]! > seen[0]! && seen[2]! > seen[1]!, `keys kept rotating across each step (${seen.join(', ')})`)
  assert.equal(tttClient.stderrLines.filter((l) => /session with .* up/.test(l)).length, 1, 'one session throughout')
  for (const p of [server, tttClient]) {
    assert.deepEqual(p.stderrLines.filter((l) => /\b(warn|error)\b/.test(l)), [], `${p.name} logged no warning`)
    assert.equal(p.exit, undefined)
  }
})
