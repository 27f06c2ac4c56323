// DelayLine (--equal-delay): packets from faster paths wait out their hold, then leave in time order.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { DelayLine, equalizingHoldMs, countsForEqualDelay, EQUAL_DELAY_LIVE_MS } from '../../../src/vpn/delay-line.js'

function line (capacity?: number): { line: DelayLine, out: string[] } {
  const out: string[] = []
  return { line: new DelayLine((bucket, seq, id, path) => out.push(`p${path} b${bucket} #${seq} id${id}`), capacity), out }
}

test('equalizingHoldMs: the slowest path\'s base delay minus the packet\'s own; 0 for the slowest or when unknown', () => {
  assert.equal(equalizingHoldMs(10, 60), 50)
  assert.equal(equalizingHoldMs(60, 60), 0)
  assert.equal(equalizingHoldMs(70, 60), 0)
  assert.equal(equalizingHoldMs(Infinity, 60), 0)
  assert.equal(equalizingHoldMs(10, -Infinity), 0)
})

test('a packet leaves when its hold is over, not before; earliest first across paths', () => {
  const { line: l, out } = line()
  l.push(0, 60, 3, 100, 1)
  l.push(1, 55, 3, 101, 2)
  l.push(0, 61, 4, 7, 3)
  assert.equal(l.held, 3)
  l.releaseDue(54.9)
  assert.deepEqual(out, [], 'nothing is due before 55')
  l.releaseDue(55)
  assert.deepEqual(out, ['p1 b3 #101 id2'], 'the earliest is due at 55')
  l.releaseDue(60.9)
  assert.deepEqual(out, ['p1 b3 #101 id2', 'p0 b3 #100 id1'], 'the next at 60, the last not before 61')
  l.releaseDue(100)
  assert.deepEqual(out.slice(2), ['p0 b4 #7 id3'])
  l.releaseAll()
  assert.equal(out.length, 3, 'nothing was left')
  assert.equal(l.held, 3)
})

test('a path\'s packets keep their arrival order when the hold shrinks (the slowest path went away)', () => {
  const { line: l, out } = line()
  l.push(0, 100, 0, 1, 1) // held 50 ms at t=50
  l.push(0, 60, 0, 2, 2) // arrived at t=60 with no hold left: still after #1
  l.releaseDue(99)
  assert.deepEqual(out, [])
  l.releaseDue(100)
  assert.deepEqual(out, ['p0 b0 #1 id1', 'p0 b0 #2 id2'])
})

test('a full path has no room (the caller passes its packet through); releaseAll empties every path in order', () => {
  const { line: l, out } = line(4)
  for (let i = 0; i < 4; i++) l.push(7, 10 + i, 0, i, i)
  assert.equal(l.hasRoom(7), false)
  assert.equal(l.hasRoom(8), true)
  assert.throws(() => l.push(7, 20, 0, 9, 9), RangeError)
  l.push(8, 11.5, 1, 0, 50)
  l.releaseAll()
  assert.deepEqual(out, ['p7 b0 #0 id0', 'p7 b0 #1 id1', 'p8 b1 #0 id50', 'p7 b0 #2 id2', 'p7 b0 #3 id3'])
  assert.equal(l.hasRoom(7), true)
  // The ring wraps: room again for a full ring.
  for (let i = 0; i < 4; i++) l.push(7, 30 + i, 0, 10 + i, 10 + i)
  l.releaseDue(40)
  assert.deepEqual(out.slice(5), ['p7 b0 #10 id10', 'p7 b0 #11 id11', 'p7 b0 #12 id12', 'p7 b0 #13 id13'])
  assert.throws(() => new DelayLine(() => {}, 3), RangeError)
})

test('countsForEqualDelay: a path that may carry data while heard lately; never a backup or a down path', () => {
  for (const state of ['up', 'degraded', 'probing'] as const) {
    assert.equal(countsForEqualDelay(state, EQUAL_DELAY_LIVE_MS), true, state)
    assert.equal(countsForEqualDelay(state, EQUAL_DELAY_LIVE_MS + 1), false, `${state}, not heard for over a second`)
  }
  assert.equal(countsForEqualDelay('down', 0), false, 'a path down for a moment already')
  assert.equal(countsForEqualDelay('backup', 0), false, 'a backup carries data only alone')
})
