import { test } from 'node:test'
import assert from 'node:assert/strict'
import { hasLossRun, repairLoneLosses } from '../../../src/vpn/loss-run.js'

test('two consecutive path sequences are a run, in any order and among others', () => {
  assert.equal(hasLossRun([10, 11], 2), true)
  assert.equal(hasLossRun([40, 7, 6], 3), true, 'out of order')
  assert.equal(hasLossRun([3, 20, 21, 30], 4), true)
})

test('lone losses, a repeated nack or an empty list are no run', () => {
  assert.equal(hasLossRun([10, 12], 2), false, 'one received in between')
  assert.equal(hasLossRun([10, 10], 2), false, 'the same one nacked twice')
  assert.equal(hasLossRun([5, 30, 61], 3), false)
  assert.equal(hasLossRun([], 0), false)
})

test('only the first `count` nacks count (the feedback reuses its array)', () => {
  assert.equal(hasLossRun([10, 40, 11], 2), false)
  assert.equal(hasLossRun([10, 40, 11], 3), true)
})

test('repairLoneLosses: lone nacks move the abandoned units to the repairs; a run keeps them abandoned', () => {
  const lost = [7]
  const abandoned = [3, 4]
  assert.equal(repairLoneLosses([100, 105], 2, abandoned, lost), 2)
  assert.deepEqual(lost, [7, 3, 4])
  assert.deepEqual(abandoned, [])
  const lost2: number[] = []
  const abandoned2 = [5, 6]
  assert.equal(repairLoneLosses([100, 101], 2, abandoned2, lost2), 0)
  assert.deepEqual(lost2, [])
  assert.deepEqual(abandoned2, [5, 6])
  assert.equal(repairLoneLosses([100, 105], 2, [], lost2), 0, 'nothing abandoned: nothing to do')
})
