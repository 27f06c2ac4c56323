import { test } from 'node:test'
import assert from 'node:assert/strict'
import { CounterLog } from '../../src/log.js'

test('a growing counter is reported at once, then at most once per interval with everything since', () => {
  const log = new CounterLog(10_000)
  assert.equal(log.due(0, 0), 0, 'nothing happened')
  assert.equal(log.due(3, 1_000), 3, 'first growth: at once')
  assert.equal(log.due(50, 1_001), 0, 'within the interval: quiet')
  assert.equal(log.due(900, 10_999), 0)
  assert.equal(log.due(901, 11_000), 898, 'the interval passed: everything since the last line')
  assert.equal(log.due(901, 30_000), 0, 'no growth, no line however long it has been')
  assert.equal(log.due(905, 30_001), 4, 'a long quiet time: the next growth is reported at once')
})

test('one line per interval however often the cap is hit (a fake clock, 1 hit per ms for a minute)', () => {
  const log = new CounterLog(10_000)
  let lines = 0
  let reported = 0
  for (let ms = 0; ms < 60_000; ms++) {
    const n = log.due(ms + 1, ms)
    if (n > 0) { lines++; reported += n }
  }
  assert.equal(lines, 6)
  assert.equal(reported, 50_001, 'the hits up to the last line, none lost or counted twice')
})
