import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PmtuSearch } from '../../../src/vpn/pmtu.js'

/** Runs the search against a path that carries packets up to `pathMtu`, answering at once. */
function settle (pathMtu: number, max = 1500, min = 576): { search: PmtuSearch, probes: number, ms: number } {
  const search = new PmtuSearch({ maxBytes: max, minBytes: min })
  let probes = 0
  let now = 0
  while (!search.isSettled && now < 60_000) {
    const size = search.probeDue(now, 100)
    if (size > 0) {
      probes++
      if (size <= pathMtu) search.onProbeAnswered(size, now + 10)
    }
    now += 10
  }
  return { search, probes, ms: now }
}

test('finds the path MTU within the granularity, for a range of paths', () => {
  for (const mtu of [576, 1000, 1280, 1400, 1420, 1492, 1500]) {
    const { search, ms } = settle(mtu)
    assert.ok(search.confirmedBytes <= mtu, `never above the real MTU (${mtu})`)
    assert.ok(mtu - search.confirmedBytes < 8, `within 8 bytes of ${mtu}: got ${search.confirmedBytes}`)
    assert.ok(ms < 5000, `settles in well under 5 s of probing (${ms} ms for ${mtu})`)
  }
})

test('the common case settles with one probe at the full size; the planning size never dips while searching', () => {
  const search = new PmtuSearch({ maxBytes: 1500, minBytes: 576 })
  assert.equal(search.usableBytes, 1500, 'optimistic before any answer')
  assert.equal(search.probeDue(0, 100), 1500)
  search.onProbeAnswered(1500, 5)
  assert.equal(search.isSettled, true)
  assert.equal(search.confirmedBytes, 1500)
  const small = new PmtuSearch({ maxBytes: 1500, minBytes: 576 })
  let now = 0
  let lowest = Infinity
  while (!small.isSettled) {
    const size = small.probeDue(now, 100)
    if (size > 0 && size <= 1400) small.onProbeAnswered(size, now)
    lowest = Math.min(lowest, small.usableBytes)
    now += 10
  }
  assert.ok(lowest >= small.confirmedBytes, 'never planned below what it settled on')
})

test('silence needs three unanswered probes before a size is given up', () => {
  const search = new PmtuSearch({ maxBytes: 1500, minBytes: 576 })
  const first = search.probeDue(0, 100)
  assert.equal(search.probeDue(50, 100), 0, 'waits for an answer')
  assert.equal(search.probeDue(100, 100), first, 'retries the same size')
  assert.equal(search.probeDue(200, 100), first)
  const next = search.probeDue(300, 100)
  assert.ok(next < first, 'then tries smaller')
})

test('a fixed MTU never probes; a local EMSGSIZE shrinks at once', () => {
  const fixed = new PmtuSearch({ maxBytes: 1500, minBytes: 576, fixedBytes: 1400 })
  assert.equal(fixed.probeDue(0, 100), 0)
  assert.equal(fixed.confirmedBytes, 1400)
  const { search } = settle(1500)
  search.onTooBig(1300, 1000)
  assert.ok(search.confirmedBytes < 1300)
})

test('a settled path looks again after the re-search interval', () => {
  const { search, ms } = settle(1400)
  assert.equal(search.probeDue(ms + 1000, 100), 0)
  assert.ok(search.probeDue(ms + 600_001, 100) > 1400)
})
