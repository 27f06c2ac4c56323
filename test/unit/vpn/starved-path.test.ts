import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StarvedPaths, STARVED_CHECK_MS, type PathFigures } from '../../../src/vpn/starved-path.js'

const figures = (over: Partial<PathFigures> = {}): PathFigures => ({ isUsable: true, planningBitsPerSec: 0.1e6, dataSent: 5, ...over })

test('a path at a probe\'s rate that carried no data for a check interval is starved, once per interval', () => {
  const s = new StarvedPaths(4, 1400)
  assert.equal(s.isStarved(0, figures(), 0), false, 'the first look only takes the count')
  assert.equal(s.isStarved(0, figures(), STARVED_CHECK_MS - 1), false, 'not before a whole interval')
  assert.equal(s.isStarved(0, figures(), STARVED_CHECK_MS), true)
  assert.equal(s.isStarved(0, figures(), STARVED_CHECK_MS + 5), false, 'checked again only an interval later')
  assert.equal(s.isStarved(0, figures(), 2 * STARVED_CHECK_MS), true)
})

test('not starved: data went out, the rate fits a packet in the budget, not usable; paths apart', () => {
  const s = new StarvedPaths(4, 1400)
  s.isStarved(0, figures(), 0)
  assert.equal(s.isStarved(0, figures({ dataSent: 6 }), STARVED_CHECK_MS), false, 'it carried a packet')
  for (const [i, over] of ([[1, { planningBitsPerSec: 1e6 }], [3, { isUsable: false }]] as const).entries()) {
    const id = over[0]
    s.isStarved(id, figures(over[1]), 0)
    assert.equal(s.isStarved(id, figures(over[1]), STARVED_CHECK_MS), false, `case ${i}`)
  }
})
