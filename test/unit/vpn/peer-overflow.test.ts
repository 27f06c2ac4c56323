// The VPN tells drop-tail overflow from random loss by a run of nacks (the core's overflowNeedsRun):
// `auto` keeps each path's queue at its budget, always near the largest seen, where two random
// losses in one feedback were otherwise taken for a full queue and abandoned.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import { silentLogger } from '../../../src/log.js'

test('every path of a peer, given at start or added later, needs a run of nacks to call a loss overflow', () => {
  const peer = new Peer({ send: () => {}, deliver: () => {} }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'a' }])
  peer.addPath({ id: 1, name: 'b' })
  assert.equal(peer.path(0)!.overflowNeedsRun, true)
  assert.equal(peer.path(1)!.overflowNeedsRun, true)
})
