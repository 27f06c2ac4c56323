// A ttt server with a peer list (issue 5: "each client has its own key and its own tunnel
// addresses"): the server starts from a TOML --config naming two peers, each with its own key file
// and allowed prefix. Each client reaches the server and the other client (routed by destination);
// a client whose key is not on the list never gets a session; a client sending from an inner
// address it does not own is dropped, counted and logged, and its own traffic goes on.
import { test, type TestContext } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { NsProcess, VethStar, keygen, startTttClient, nsExec, ping, sleep, tttPath } from '../../bench/lib/vpn.js'
import { useTestControlDir } from '../helpers/control-dir.js'
import { Scope, tttLabSkip } from './helpers/scope.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'
import type { StatusReport } from '../../src/control/status.js'

const controlDir = useTestControlDir()
const skip = tttLabSkip({ lab: false })

const PORT = 5000

async function status (name: string): Promise<StatusReport> {
  return await requestControl(socketPath(controlDir, name), { cmd: 'status' }) as StatusReport
}

test('ttt server with a peer list from --config: per-client keys and inner addresses, routing between clients, an unknown key refused, a spoofed inner source dropped', { skip, timeout: 60_000 }, async (t: TestContext) => {
  const s = new Scope(t)
  const dir = mkdtempSync(join(tmpdir(), 'gst-peers-'))
  s.onClose(() => rmSync(dir, { recursive: true, force: true }))
  const star = s.star = VethStar.create(3)
  // Client to client goes through the server's TUN and the kernel's forwarding, as with any router.
  await nsExec(star.hub, 'sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1'])
  const keys = { alice: keygen(), bob: keygen(), mallory: keygen() }
  for (const [name, key] of Object.entries(keys)) writeFileSync(join(dir, `${name}.key`), key + '\n', { mode: 0o600 })
  const config = join(dir, 'server.toml')
  writeFileSync(config, [
    `listen = "0.0.0.0:${PORT}"`,
    'address = ["10.9.0.1/24"]',
    'peer = [',
    `  "alice,key=@${join(dir, 'alice.key')},allowed=10.9.0.2/32",`,
    `  "bob,key=@${join(dir, 'bob.key')},allowed=10.9.0.3/32",`,
    ']',
    'name = "peers-srv"',
    `control-dir = "${controlDir}"`,
  ].join('\n') + '\n')
  const server = NsProcess.spawn('ttt server (peers)', star.hub, process.execPath, [tttPath, 'server', '--config', config])
  s.add(server)
  await server.waitFor(/ttt server listening/, 20_000)

  const client = (i: number, name: keyof typeof keys, address: string): NsProcess => {
    const p = startTttClient(star.spokes[i]!, `${star.hubAddress(i)}:${PORT}`, `${address}/24`, [star.spokeAddress(i)], { key: keys[name], extra: ['--name', `peers-${name}`, '--control-dir', controlDir] })
    s.add(p)
    return p
  }
  const alice = client(0, 'alice', '10.9.0.2')
  const bob = client(1, 'bob', '10.9.0.3')
  await alice.waitFor(/session with .* up/, 20_000)
  await bob.waitFor(/session with .* up/, 20_000)

  // Each to the server, and to each other through it (routed by the destination's owner).
  const results = await Promise.all([
    ping(star.spokes[0]!, '10.9.0.1', 5, 0.1), ping(star.spokes[1]!, '10.9.0.1', 5, 0.1),
    ping(star.spokes[0]!, '10.9.0.3', 5, 0.1), ping(star.spokes[1]!, '10.9.0.2', 5, 0.1),
  ])
  assert.deepEqual(results.map((r) => r.lossPct), [0, 0, 0, 0], 'alice and bob reach the server and each other')
  const sessions = (await status('peers-srv')).sessions
  assert.deepEqual(sessions.map((s) => s.peer).sort(), ['alice', 'bob'], 'the server names each session by its peer')

  // A key that is not on the list: no session, counted as a handshake error.
  const mallory = client(2, 'mallory', '10.9.0.4')
  await sleep(3000)
  assert.ok(!mallory.lines.some((l) => /session with .* up/.test(l)), 'an unknown key gets no session')
  const afterMallory = await status('peers-srv')
  assert.ok(afterMallory.errors.handshake.count >= 1, `the refused handshakes are counted: ${JSON.stringify(afterMallory.errors.handshake)}`)
  assert.equal(afterMallory.sessions.length, 2)

  // Alice sends from bob's address: the server drops it (she does not own it) and says so.
  const malformedBefore = afterMallory.errors.malformed.count
  await nsExec(star.spokes[0]!, 'ip', ['addr', 'add', '10.9.0.3/32', 'dev', 'tun0'])
  const spoofed = await ping(star.spokes[0]!, '10.9.0.1', 3, 0.1, ['-I', '10.9.0.3'])
  assert.equal(spoofed.lossPct, 100, 'nothing sent from an address alice does not own gets through')
  await server.waitFor(/client alice sent from 10\.9\.0\.3, an inner address it does not own/, 5000)
  const afterSpoof = await status('peers-srv')
  assert.ok(afterSpoof.errors.malformed.count >= malformedBefore + 3, `the spoofed packets are counted: ${JSON.stringify(afterSpoof.errors.malformed)}`)
  const own = await ping(star.spokes[0]!, '10.9.0.1', 5, 0.1, ['-I', '10.9.0.2'])
  assert.equal(own.lossPct, 0, 'alice\'s own traffic goes on')
  assert.equal((await ping(star.spokes[1]!, '10.9.0.1', 3, 0.1)).lossPct, 0, 'and so does bob\'s')
  assert.ok(!server.text.includes(keys.alice) && !server.text.includes(keys.bob), 'no key in the server log')
})

// The peer list changes while the server runs (SIGHUP, as `wg syncconf` or systemd's ExecReload):
// a client still listed keeps its session and its traffic loses nothing; a removed client is told
// and refused from then on; a new client gets in; a broken file changes nothing.
test('SIGHUP reloads the peer list in place: a kept client loses nothing, a removed one is closed, a new one gets in, a broken file is refused', { skip, timeout: 90_000 }, async (t: TestContext) => {
  const s = new Scope(t)
  const dir = mkdtempSync(join(tmpdir(), 'gst-reload-'))
  s.onClose(() => rmSync(dir, { recursive: true, force: true }))
  const star = s.star = VethStar.create(3)
  const keys = { alice: keygen(), bob: keygen(), carol: keygen() }
  for (const [name, key] of Object.entries(keys)) writeFileSync(join(dir, `${name}.key`), key + '\n', { mode: 0o600 })
  const config = join(dir, 'server.toml')
  const writeConfig = (peers: string[]): void => writeFileSync(config, [
    `listen = "0.0.0.0:${PORT}"`,
    'address = ["10.9.0.1/24"]',
    `peer = [${peers.map((p) => JSON.stringify(p)).join(', ')}]`,
    'name = "reload-srv"',
    'log-level = "debug"',
    `control-dir = "${controlDir}"`,
  ].join('\n') + '\n')
  const entry = (name: keyof typeof keys, address: string): string => `${name},key=@${join(dir, `${name}.key`)},allowed=${address}/32`
  writeConfig([entry('alice', '10.9.0.2'), entry('bob', '10.9.0.3')])
  const server = s.add(NsProcess.spawn('ttt server (reload)', star.hub, process.execPath, [tttPath, 'server', '--config', config]))
  await server.waitFor(/ttt server listening/, 20_000)
  const client = (i: number, name: keyof typeof keys, address: string): NsProcess => s.add(startTttClient(star.spokes[i]!, `${star.hubAddress(i)}:${PORT}`, `${address}/24`, [star.spokeAddress(i)], { key: keys[name], extra: ['--name', `reload-${name}`, '--control-dir', controlDir] }))
  const alice = client(0, 'alice', '10.9.0.2')
  const bob = client(1, 'bob', '10.9.0.3')
  const carol = client(2, 'carol', '10.9.0.4')
  await alice.waitFor(/session with .* up/, 20_000)
  await bob.waitFor(/session with .* up/, 20_000)
  assert.equal((await ping(star.spokes[1]!, '10.9.0.1', 3, 0.1)).lossPct, 0, 'bob is in before the reload')
  const aliceSession = (await status('reload-srv')).sessions.find((x) => x.peer === 'alice')
  assert.ok(aliceSession !== undefined)

  // Alice pings through both reloads; bob is taken off, carol put on, alice's prefix widened.
  const aliceDuring = ping(star.spokes[0]!, '10.9.0.1', 60, 0.05)
  await sleep(500)
  writeConfig([`alice,key=@${join(dir, 'alice.key')},allowed=10.9.0.2/31`, entry('carol', '10.9.0.4')])
  process.kill(server.pid, 'SIGHUP')
  await server.waitFor(/SIGHUP: peer list reloaded: added carol; removed bob; changed alice/, 10_000)
  await bob.waitFor(/closed the session: our key is no longer in its peer list/, 5_000)
  await carol.waitFor(/session with .* up/, 10_000)
  // A file that does not parse, then a peer whose key file is missing: each refused with a reason.
  writeFileSync(config, 'peer = [\n')
  process.kill(server.pid, 'SIGHUP')
  await server.waitFor(/SIGHUP: peer list not reloaded, the current one stays: .*server\.toml/, 10_000)
  writeConfig([entry('alice', '10.9.0.2'), `dave,key=@${join(dir, 'dave.key')}`])
  process.kill(server.pid, 'SIGHUP')
  await server.waitFor(/SIGHUP: peer list not reloaded, the current one stays: --peer dave: .*dave\.key/, 10_000)
  const during = await aliceDuring
  assert.equal(during.lossPct, 0, 'alice\'s pings across the reloads all came back')

  const after = await status('reload-srv')
  assert.deepEqual(after.sessions.map((x) => x.peer).sort(), ['alice', 'carol'], 'bob\'s session is gone, carol\'s is up')
  assert.equal(after.sessions.find((x) => x.peer === 'alice')!.id, aliceSession.id, 'alice kept her session (no new handshake)')
  assert.equal((await ping(star.spokes[2]!, '10.9.0.1', 3, 0.1)).lossPct, 0, 'carol reaches the server')
  assert.equal((await ping(star.spokes[1]!, '10.9.0.1', 3, 0.1)).lossPct, 100, 'bob does not any more')
  t.diagnostic(server.lines.filter((l) => /SIGHUP|link-local|client (bob|carol|alice)/.test(l)).join(' | '))
  assert.ok(!server.lines.some((l) => /does not own/.test(l)), 'no client was blamed for spoofing (IPv6 link-local chatter is not)')
  assert.ok(server.running, 'the server still runs')
  assert.ok(!server.text.includes(keys.alice) && !server.text.includes(keys.carol), 'no key in the server log')
})
