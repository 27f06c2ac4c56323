// ttt server and client with --user nobody in the lab: after the drop both run as nobody with
// CAP_NET_ADMIN as their only capability, traffic flows, path MTU discovery still lowers the TUN's
// MTU (the one privileged thing ttt does at runtime), and root's `gst show` reads both. With a
// fixed --mtu nothing privileged is left, so ttt keeps no capability at all.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync, readFileSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { Lab, labUnavailableReason } from '../lab/lab.js'
import { NsProcess, keygen, startTttServer, startTttClient, ping, nsExec, gstPath, tttPath } from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import type { StatusReport } from '../../src/control/status.js'

const controlDir = useTestControlDir()
const nobody = spawnSync('getent', ['passwd', 'nobody'], { encoding: 'utf8' }).stdout?.split(':') ?? []
const skip = labUnavailableReason() ??
  (nobody.length < 7 ? 'no user "nobody"' : undefined) ??
  (existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`)
const NOBODY_UID = Number(nobody[2])
const CAP_NET_ADMIN = 1n << 12n
const PORT = 5000

function capabilities (pid: number): Record<string, bigint> {
  const out: Record<string, bigint> = {}
  for (const m of readFileSync(`/proc/${pid}/status`, 'utf8').matchAll(/^(Uid|Cap\w+):\s*(\S+)/gm)) out[m[1]!] = m[1] === 'Uid' ? BigInt(m[2]!) : BigInt('0x' + m[2]!)
  return out
}

async function mtuOf (ns: string, dev: string): Promise<number> {
  const { stdout } = await nsExec(ns, 'ip', ['-o', 'link', 'show', 'dev', dev])
  return Number(/ mtu (\d+)/.exec(stdout)?.[1])
}

/** The TUN's MTU once it has not changed for 1.5 s. */
async function settledMtu (ns: string, dev: string, timeoutMs = 20_000): Promise<number> {
  const deadline = Date.now() + timeoutMs
  let last = await mtuOf(ns, dev)
  let since = Date.now()
  while (Date.now() - since < 1500) {
    if (Date.now() > deadline) throw new Error(`${dev}'s MTU never settled (last ${last})`)
    await new Promise((resolve) => setTimeout(resolve, 100))
    const now = await mtuOf(ns, dev)
    if (now !== last) { last = now; since = Date.now() }
  }
  return last
}

function showJson (name: string): StatusReport {
  const r = spawnSync(process.execPath, [gstPath, 'show', name, '--json', '--control-dir', controlDir], { encoding: 'utf8', timeout: 20_000 })
  assert.equal(r.status, 0, r.stderr)
  return JSON.parse(r.stdout) as StatusReport
}

test('ttt server and client --user nobody: CAP_NET_ADMIN only, traffic, PMTU lowers the TUN MTU, gst show', { skip, timeout: 60_000 }, async (t: TestContext) => {
  const procs: NsProcess[] = []
  let lab: Lab | undefined
  t.after(async () => {
    for (const p of procs) p.kill()
    await Promise.all(procs.map(async (p) => await p.exited))
    await lab?.down()
  })
  lab = await Lab.up({ links: [{ delayMs: 2, rateMbit: 50 }] })
  // A 1300-byte link: discovery must shrink the inner MTU below the 1422 default, after the drop.
  const link = lab.links[0]!
  await nsExec(lab.namespaces.client, 'ip', ['link', 'set', 'dev', link.clientTun, 'mtu', '1300'])
  await nsExec(lab.namespaces.server, 'ip', ['link', 'set', 'dev', link.serverTun, 'mtu', '1300'])
  const key = keygen()
  const server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, '10.9.0.1/24', { key, extra: ['--user', 'nobody', '--name', 'privsrv', '--tun', 'tpriv0'] })
  procs.push(server)
  await server.waitFor(/ttt server listening/, 20_000)
  const client = startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24', [lab.clientAddress(0)], { key, extra: ['--user', 'nobody', '--name', 'privcli', '--tun', 'tpriv1'] })
  procs.push(client)
  await client.waitFor(/session with .* up/, 20_000)
  for (const p of [server, client]) {
    assert.match(p.text, /privileges: now running as nobody:\S+ \(uid \d+, gid \d+\), keeping only CAP_NET_ADMIN/)
    const caps = capabilities(p.pid)
    assert.equal(caps.Uid, BigInt(NOBODY_UID), `${p.name} runs as nobody`)
    assert.equal(caps.CapEff, CAP_NET_ADMIN, `${p.name}: CAP_NET_ADMIN is its only effective capability`)
    assert.equal(caps.CapPrm, CAP_NET_ADMIN, `${p.name}: and its only permitted one`)
    assert.equal(caps.CapInh, 0n)
    assert.equal(caps.CapAmb, 0n, 'nothing is handed to programs it starts')
  }
  // Discovery steps the MTU down from 1422 to what the 1300-byte link carries; wait until it settles.
  const clientMtu = await settledMtu(lab.namespaces.client, 'tpriv1')
  const serverMtu = await settledMtu(lab.namespaces.server, 'tpriv0')
  t.diagnostic(`inner MTU: client ${clientMtu}, server ${serverMtu}; ${client.lines.filter((l) => /path MTU/.test(l)).map((l) => /inner MTU \d+/.exec(l)![0]).join(', ')}`)
  assert.ok(clientMtu < 1300 - 28 && serverMtu < 1300 - 28, 'both TUNs were lowered to fit the link, by the unprivileged processes')
  assert.match(client.text, new RegExp(`path MTU: inner MTU ${clientMtu} `))
  assert.match(server.text, new RegExp(`path MTU: inner MTU ${serverMtu} `))
  assert.doesNotMatch(client.text + server.text, /couldn't set MTU|EPERM/)
  const p = await ping(lab.namespaces.client, '10.9.0.1', 5, 0.1, ['-s', String(Math.min(clientMtu, serverMtu) - 28), '-M', 'do'])
  assert.equal(p.lossPct, 0, 'full-size packets cross the tunnel')
  // Root reads both control sockets (owned by nobody now).
  const shownClient = showJson('privcli')
  assert.equal(shownClient.instance.mode, 'vpn-client')
  assert.equal(shownClient.instance.pid, client.pid)
  assert.equal(shownClient.sessions.length, 1)
  const shownServer = showJson('privsrv')
  assert.equal(shownServer.instance.pid, server.pid)
  assert.equal(shownServer.sessions.length, 1)
})

test('ttt --user nobody with a fixed --mtu keeps no capability', { skip, timeout: 30_000 }, async (t: TestContext) => {
  let lab: Lab | undefined
  let server: NsProcess | undefined
  t.after(async () => { server?.kill(); await server?.exited; await lab?.down() })
  lab = await Lab.up({ links: [{}] })
  server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, '10.9.0.1/24', { key: keygen(), extra: ['--user', 'nobody', '--mtu', '1400'] })
  await server.waitFor(/ttt server listening/, 20_000)
  assert.match(server.text, /privileges: now running as nobody:\S+ \(uid \d+, gid \d+\), no capabilities/)
  const caps = capabilities(server.pid)
  assert.equal(caps.Uid, BigInt(NOBODY_UID))
  for (const set of ['CapEff', 'CapPrm', 'CapInh', 'CapAmb']) assert.equal(caps[set], 0n, set)
})
