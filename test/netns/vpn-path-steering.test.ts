// Paths steered without a local address: `--path dev=IFNAME` (SO_BINDTODEVICE: the path leaves
// through that interface whatever the routing table says, as a 4G or DHCP link whose address
// changes needs) and `--path ADDR,mark=N` (SO_MARK, for `ip rule ... fwmark N` policy routing).
// In the lab the main table sends everything to the server over link 0, so only the steering can
// put traffic on links 1 and 2; the lab's per-link byte counters show where each path really went.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import type { Lab } from '../lab/lab.js'
import { keygen, startTttServer, startTttClient, iperfServer, iperfClient, nsExec } from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { Scope, tttLabSkip } from './helpers/scope.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'
import type { StatusReport } from '../../src/control/status.js'

const controlDir = useTestControlDir()
const skip = tttLabSkip({ iperf: true })

const PORT = 5000
const SERVER_INNER = '10.9.0.1'
const MARK = 0x42

async function status (name: string): Promise<StatusReport> {
  return await requestControl(socketPath(controlDir, name), { cmd: 'status' }) as StatusReport
}

async function upBytes (lab: Lab): Promise<number[]> {
  return await Promise.all([0, 1, 2].map(async (i) => (await lab.stats(i)).up.rxBytes))
}

test('--path dev=IFNAME and --path ADDR,mark=N steer each path onto its own link; a missing device is refused in one line', { skip, timeout: 60_000 }, async (t: TestContext) => {
  const s = new Scope(t)
  const link = { delayMs: 2, rateMbit: 40, queuePkts: 100 }
  const lab = await s.lab$([link, link, link])
  const link1 = lab.links[1]!
  const link2 = lab.links[2]!
  const key = keygen()
  const server = startTttServer(lab.namespaces.server, `${lab.serverAddress}:${PORT}`, `${SERVER_INNER}/24`, { key })
  s.add(server)
  await server.waitFor(/ttt server listening/, 20_000)

  // A device that does not exist: one line naming it, exit status 2, nothing left running.
  const bad = startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '', ['dev=nosuchdev0'], { key })
  assert.equal(await bad.exited, 2)
  assert.deepEqual(bad.lines, ['ttt: --path dev=nosuchdev0: no such interface'])

  // Path 0 bound to link 1's device; path 1 from the wildcard address with a mark that a rule
  // sends to link 2's table. Unsteered, both would follow the main table onto link 0.
  await nsExec(lab.namespaces.client, 'ip', ['rule', 'add', 'fwmark', String(MARK), 'lookup', String(link2.table), 'pref', '500'])
  const before = await upBytes(lab)
  const client = startTttClient(lab.namespaces.client, `${lab.serverAddress}:${PORT}`, '10.9.0.2/24',
    [`dev=${link1.clientTun}`, `0.0.0.0,mark=${MARK}`], { key, extra: ['--name', 'steer', '--control-dir', controlDir] })
  s.add(client)
  await client.waitFor(/session with .* up/, 20_000)
  const deadline = Date.now() + 10_000
  while ((await status('steer')).sessions[0]?.paths?.filter((p) => p.state === 'up').length !== 2) {
    if (Date.now() > deadline) assert.fail(`both paths never came up: ${JSON.stringify((await status('steer')).sessions[0]?.paths)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const paths = (await status('steer')).sessions[0]!.paths!
  assert.match(paths[0]!.local, new RegExp(`^0\\.0\\.0\\.0:\\d+%${link1.clientTun}$`), 'show names the device of a dev= path')

  s.add(await iperfServer(lab.namespaces.server, SERVER_INNER, 5201))
  const r = await iperfClient(lab.namespaces.client, SERVER_INNER, 5201, ['-t', '3'])
  const after = await upBytes(lab)
  const onLink = after.map((b, i) => b - before[i]!)
  const byPath = (await status('steer')).sessions[0]!.paths!.map((p) => p.bytesOut)
  t.diagnostic(`${(r.receivedBps / 1e6).toFixed(1)} Mbit/s; client->server bytes on links 0 / 1 / 2: ${onLink.join(' / ')}; sent per path: ${byPath.join(' / ')}`)
  // Links 1 and 2 each carry what one path sent (give or take the probes around the flow); link 0 next to nothing.
  assert.ok(byPath[0]! > 1e6 && byPath[1]! > 1e6, `both paths carried the flow (${byPath.join(' / ')} bytes)`)
  assert.ok(Math.abs(onLink[1]! - byPath[0]!) < byPath[0]! * 0.1 + 50_000, `link 1 carried path 0 (dev=${link1.clientTun}): ${onLink[1]} against ${byPath[0]} bytes`)
  assert.ok(Math.abs(onLink[2]! - byPath[1]!) < byPath[1]! * 0.1 + 50_000, `link 2 carried path 1 (mark=${MARK}): ${onLink[2]} against ${byPath[1]} bytes`)
  assert.ok(onLink[0]! < 50_000, `link 0, where the main table points, carried next to nothing (${onLink[0]} bytes)`)
})
