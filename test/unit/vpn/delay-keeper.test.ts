// A bulk flow that filled a fast and a slow path keeps the slow path's delay while its rate dips
// (BBR's PROBE_RTT), so its round trip does not fall to the fast path's; slow or sparse flows do not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DelayKeeper, KEEP_DELAY_MEMORY_MS, KEEP_AFTER_MS, BULK_SHARE_OF_FASTEST, type KeeperPath } from '../../../src/vpn/delay-keeper.js'

/** A path with a fixed base delay and rate, and a queue the test sets. */
function path (id: number, baseMs: number, rateMbit: number): KeeperPath & { queueMs: number, lateMs: number } {
  return {
    id,
    queueMs: 0,
    lateMs: 0,
    overdueMs (): number { return this.lateMs },
    relativeBaseDelayMs: () => baseMs,
    queueDelayMs (): number { return this.queueMs },
    planningRateBitsPerSec: () => rateMbit * 1e6,
  }
}

const BUDGET_MS = 20
const FAST_MBIT = 20

function lab (): { fast: ReturnType<typeof path>, slow: ReturnType<typeof path>, both: KeeperPath[], keeper: DelayKeeper } {
  const fast = path(0, 10, FAST_MBIT)
  const slow = path(1, 60, 10)
  return { fast, slow, both: [fast, slow], keeper: new DelayKeeper(16, KEEP_DELAY_MEMORY_MS, 0) }
}

test('after a bulk flow used the slower path, a packet that would not wait for it goes there, until the memory ends', () => {
  const { slow, both, keeper } = lab()
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 0), undefined, 'a flow that never used the slower path is left to the scheduler')
  keeper.onChosen(3, slow, both, 27e6, 1000)
  // Within the delay spread (50 ms) of its last slow-path packet, a packet on the fast path waits for that one anyway.
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 1049), undefined)
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 1050), slow, 'past the spread it would not: kept on the slower path')
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 1060), undefined, 'the next one waits behind the kept one')
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 1000 + KEEP_DELAY_MEMORY_MS), slow)
  assert.equal(keeper.pathFor(3, 1400, both, BUDGET_MS, 1001 + KEEP_DELAY_MEMORY_MS), undefined, 'kept packets do not renew the memory')
  assert.equal(keeper.kept, 2)
  assert.equal(keeper.pathFor(4, 1400, both, BUDGET_MS, 1100), undefined, 'buckets are separate')
})

test('a flow slower than half the fastest path is not kept on the slower path, nor is one the scheduler put on the fastest', () => {
  const { fast, slow, both, keeper } = lab()
  keeper.onChosen(1, slow, both, BULK_SHARE_OF_FASTEST * FAST_MBIT * 1e6 - 1, 0)
  assert.equal(keeper.pathFor(1, 1400, both, BUDGET_MS, 100), undefined)
  keeper.onChosen(2, fast, both, 27e6, 0)
  assert.equal(keeper.pathFor(2, 1400, both, BUDGET_MS, 100), undefined)
})

test('the slower path must be usable, answering in time, have room within its budget, and be clearly slower', () => {
  const { fast, slow, both, keeper } = lab()
  keeper.onChosen(5, slow, both, 27e6, 0)
  assert.equal(keeper.pathFor(5, 1400, [fast], BUDGET_MS, 100), undefined, 'down or out of the best tier')
  slow.queueMs = BUDGET_MS + 1
  assert.equal(keeper.pathFor(5, 1400, both, BUDGET_MS, 100), undefined, 'over its budget')
  slow.queueMs = BUDGET_MS
  slow.lateMs = 1
  assert.equal(keeper.pathFor(5, 1400, both, BUDGET_MS, 100), undefined, 'its replies are late: it may have died')
  slow.lateMs = 0
  assert.equal(keeper.pathFor(5, 1400, both, BUDGET_MS, 100), slow)
  const twin = path(7, 10.5, 20)
  keeper.onChosen(6, twin, [fast, twin], 27e6, 0)
  assert.equal(keeper.pathFor(6, 1400, [fast, twin], BUDGET_MS, 100), undefined, 'paths of the same delay: nothing to keep')
  keeper.reset()
  assert.equal(keeper.pathFor(5, 1400, both, BUDGET_MS, 200), undefined, 'a new session forgets')
})

test('a flow is kept only once it has filled both paths for KEEP_AFTER_MS (not in its startup), counted afresh after a gap', () => {
  const { slow, both } = lab()
  const keeper = new DelayKeeper(16)
  for (let t = 0; t < KEEP_AFTER_MS; t += 500) keeper.onChosen(2, slow, both, 27e6, t)
  assert.equal(keeper.pathFor(2, 1400, both, BUDGET_MS, KEEP_AFTER_MS - 1), undefined, 'still its startup')
  assert.equal(keeper.pathFor(2, 1400, both, BUDGET_MS, KEEP_AFTER_MS), slow)
  const later = KEEP_AFTER_MS + KEEP_DELAY_MEMORY_MS + 500
  keeper.onChosen(2, slow, both, 27e6, later)
  assert.equal(keeper.pathFor(2, 1400, both, BUDGET_MS, later + 100), undefined, 'after a gap longer than the memory it starts over')
})
