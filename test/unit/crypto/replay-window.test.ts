import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { ReplayWindow, REPLAY_WINDOW_SIZE } from '../../../src/crypto/replay-window.js'

test('window holds at least 8192 counters', () => {
  assert.ok(REPLAY_WINDOW_SIZE >= 8192)
})

test('numbered cases at the window edges', () => {
  const w = new ReplayWindow()
  const W = REPLAY_WINDOW_SIZE
  const cases: Array<[number, boolean]> = [
    [0, true], [1, true], [1, false], [9, true], [8, true], [7, true], [7, false],
    [W, true], [W + 1, true], [W - 1, true], [W - 1, false], [1, false],
    [W + 2, true], [2, false], // 2 is now exactly W behind the newest: too old
    [3, true], [W + 3, true], [3, false],
    [W * 3, true], [W * 2, false], [W * 2 + 1, true], [W * 3 - 1, true], [W * 3, false],
    [W * 4, true], [W * 3, false], [W * 3 + 1, true], [W * 3 + 1, false],
    [-1, false], [1.5, false], [2 ** 53, false],
    [2 ** 52, true], [2 ** 52 - W, false], [2 ** 52 - 1, true],
  ]
  cases.forEach(([counter, expected], i) => {
    assert.equal(w.accept(counter), expected, `case ${i + 1}: counter ${counter}`)
  })
})

test('agrees with a naive reference on random sequences', () => {
  fc.assert(fc.property(fc.array(fc.nat(3 * REPLAY_WINDOW_SIZE), { maxLength: 400 }), (counters) => {
    const w = new ReplayWindow()
    const seen = new Set<number>()
    let newest = -1
    for (const c of counters) {
      const expected = !seen.has(c) && (c > newest || newest - c < REPLAY_WINDOW_SIZE)
      assert.equal(w.accept(c), expected, `counter ${c} newest ${newest}`)
      if (expected) { seen.add(c); newest = Math.max(newest, c) }
    }
  }), { numRuns: 300 })
})
