// Runtime path changes (`gst path`) on a Peer: the scheduler sees them on its next choice.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import { applyPathChange } from '../../../src/vpn/runtime.js'
import { createScheduler } from '../../../src/multipath/scheduler.js'
import type { Path } from '../../../src/multipath/path.js'
import { silentLogger } from '../../../src/log.js'
import { UsageError } from '../../../src/errors.js'

function twoPathPeer (): Peer {
  const peer = new Peer({ send: () => {}, deliver: () => {} }, { scheduler: 'weighted', mtuBytes: 1400, log: silentLogger },
    [{ id: 0, name: 'a' }, { id: 1, name: 'b' }])
  for (const p of peer.active) { p.state = 'up'; p.stateSinceMs = 0 }
  return peer
}

function picks (peer: Peer, kind: 'auto' | 'weighted' | 'redundant', n = 50): Set<number> {
  const scheduler = createScheduler(kind, () => 0.5)
  const out: Path[] = []
  const seen = new Set<number>()
  for (let i = 0; i < n; i++) {
    const count = scheduler.pick(peer.active, 1000, 1000 + i, out)
    for (let j = 0; j < count; j++) seen.add(out[j]!.id)
  }
  return seen
}

test('setPath(0, {down}) makes the scheduler skip path 0 at once', () => {
  const peer = twoPathPeer()
  assert.deepEqual([...picks(peer, 'weighted')].sort(), [0, 1])
  assert.match(applyPathChange(peer, 0, { down: true }, 1000), /path a: down/)
  assert.equal(peer.path(0)!.state, 'down')
  assert.deepEqual([...picks(peer, 'weighted')], [1])
  assert.deepEqual([...picks(peer, 'redundant')], [1])
  // `up` clears the admin flag; the path comes back once its probes are answered (like any down path).
  assert.match(applyPathChange(peer, 0, { down: false }, 1001), /path a: up/)
})

test('setPath: backup, rate cap and weight are set on the path; an unknown path is a usage error', () => {
  const peer = twoPathPeer()
  applyPathChange(peer, 1, { preference: 'backup', rateBitsPerSec: 20_000_000, weight: 3 }, 1000)
  const p = peer.path(1)!
  assert.equal(p.preference, 'backup')
  assert.equal(p.txCapBitsPerSec, 20_000_000)
  assert.equal(p.weight, 3)
  p.update(1001)
  assert.ok(p.planningRateBitsPerSec() <= 20_000_000)
  assert.throws(() => applyPathChange(peer, 9, { down: true }, 1000), UsageError)
})

test('setScheduler switches in place', () => {
  const peer = twoPathPeer()
  peer.setScheduler('redundant')
  peer.setScheduler('auto')
  assert.equal(peer.active.length, 2)
})
