// TunDevice against the real kernel, in a throwaway network namespace (needs root).
import { test, before } from 'node:test'
import assert from 'node:assert/strict'
import { execFile, spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { addonPath } from '../../src/native/index.js'

const check = fileURLToPath(new URL('./helpers/tun-check.js', import.meta.url))
const skip = process.getuid?.() !== 0 ? 'needs root (TUN devices, network namespaces)'
  : !existsSync('/dev/net/tun') ? 'no /dev/net/tun'
  : spawnSync('unshare', ['--version']).status !== 0 ? 'unshare (util-linux) is not installed'
  : !existsSync(addonPath) ? `${addonPath} is missing (run npm install)`
  : undefined

interface Observations {
  link: { mtu: number, up: boolean, addresses: string[] }
  read: { seqs: number, inOrder: boolean, batches: number, order: string[], stats: Record<string, number> }
  backpressure: { whileStopped: number, afterStart: number }
  write: { single: boolean, batch: number, slotWrites: number, garbage: boolean, got: string[], stats: Record<string, number> }
  open: { busy: string, anyName: string, multiQueue: [string, string, boolean] }
  closed: boolean
}
let seen: Observations

before(async () => {
  if (skip) return
  // `unshare --net`: the namespace, and every device in it, dies with the child, pass or fail.
  const { stdout } = await promisify(execFile)('unshare', ['--net', process.execPath, check], { timeout: 20_000 })
  seen = JSON.parse(stdout) as Observations
})

test('open configures MTU, addresses (IPv4 and IPv6) and brings the device up', { skip }, () => {
  const global = seen.link.addresses.filter((a) => !a.startsWith('fe80:'))
  assert.deepEqual({ ...seen.link, addresses: global }, { mtu: 1400, up: true, addresses: ['10.77.0.1/24', 'fd00:77::1/64'] })
})

test('reads arrive in order, in batches, with microtasks run between batches', { skip }, () => {
  assert.equal(seen.read.seqs, 200)
  assert.equal(seen.read.inOrder, true)
  assert.ok(seen.read.batches < 200, `${seen.read.batches} batches for 200 packets`)
  assert.equal(seen.read.stats.readBatches, seen.read.batches)
  assert.ok(seen.read.stats.readPackets! >= 200)
  assert.deepEqual(seen.read.order.slice(0, 4), ['batch 0', 'microtask 0', 'batch 1', 'microtask 1'])
})

test('stop holds packets in the kernel until start', { skip }, () => {
  assert.deepEqual(seen.backpressure, { whileStopped: 0, afterStart: 10 })
})

test('single, batched and slot writes reach sockets; a refused packet is counted, not thrown', { skip }, () => {
  assert.equal(seen.write.single, true)
  assert.equal(seen.write.batch, 3)
  assert.equal(seen.write.slotWrites, 2)
  assert.equal(seen.write.garbage, false)
  assert.deepEqual(seen.write.got, ['batch-0', 'batch-1', 'batch-2', 'single', 'slot-0', 'slot-1'])
  assert.equal(seen.write.stats.writePackets, 6)
  assert.equal(seen.write.stats.writeErrors, 1)
  assert.equal(seen.write.stats.lastErrno, 22, 'EINVAL')
})

test('open errors are typed; kernel-chosen names and multi-queue work; close removes the device', { skip }, () => {
  assert.match(seen.open.busy, /^EBUSY: couldn't attach TUN device gsttun0: EBUSY \(in use/)
  assert.match(seen.open.anyName, /^tun\d+$/)
  assert.deepEqual(seen.open.multiQueue, ['gstmq0', 'gstmq0', true])
  assert.equal(seen.closed, true)
})
