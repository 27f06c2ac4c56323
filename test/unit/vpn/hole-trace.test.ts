import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HoleTrace } from '../../../src/vpn/hole-trace.js'
import { Path } from '../../../src/multipath/index.js'
import type { Logger } from '../../../src/log.js'

function recorder (): { log: Logger, lines: string[] } {
  const lines: string[] = []
  const keep = (m: string): void => { lines.push(m) }
  return { log: { debug: keep, info: keep, warn: keep, error: keep }, lines }
}

test('a skip, then its late fill: the line says the path and how long after the skip', () => {
  const { log, lines } = recorder()
  const trace = new HoleTrace(log, 'peer x')
  trace.cause = 'hold ran out'
  trace.onSkip(3, 100, 1000, 141, 94, '1')
  trace.onLate(3, 100, 0, 1005)
  assert.equal(lines.length, 2)
  assert.match(lines[0]!, /^peer x: hole 3\/100 skipped \(hold ran out\) \+0 ms, hold 141 ms, repair wait 94 ms, lossy paths \[1\]$/)
  assert.match(lines[1]!, /hole 3\/100 filled late on path 0 \+5 ms, 5 ms after its skip$/)
})

test('a late fill of a hole it never saw skipped says so; nacks name their path and both lists', () => {
  const { log, lines } = recorder()
  const trace = new HoleTrace(log, 'p')
  trace.onLate(1, 7, 1, 50)
  assert.match(lines[0]!, /hole 1\/7 filled late on path 1 \+0 ms, \? ms after its skip/)
  trace.onNacks(1, '1/8->0', '1/9', 80)
  assert.match(lines[1]!, /^p: path 1 nacked \+30 ms: repaired \[1\/8->0\] abandoned \[1\/9\]$/)
})

test('skips are remembered per bucket and sequence', () => {
  const { log } = recorder()
  const trace = new HoleTrace(log, 'p')
  trace.onSkip(2, 5, 10, 100, 0, '')
  trace.onSkip(3, 5, 20, 100, 0, '')
  assert.equal(trace.skippedAgoMs(2, 5, 30), 20)
  assert.equal(trace.skippedAgoMs(3, 5, 30), 10)
  assert.ok(Number.isNaN(trace.skippedAgoMs(2, 6, 30)))
})

test('a path is traced when its state changes, its rate leaves startup or moves 2x, not on every tick', () => {
  const { log, lines } = recorder()
  const trace = new HoleTrace(log, 'p')
  const path = new Path(1)
  path.state = 'up'
  trace.onTick(path, 0)
  assert.equal(lines.length, 1)
  assert.match(lines[0]!, /^p: rate path 1 [\d.]+ Mbit\/s startup at 0 ms: state up/)
  trace.onTick(path, 5)
  assert.equal(lines.length, 1, 'nothing changed')
  path.state = 'degraded'
  trace.onTick(path, 10)
  assert.equal(lines.length, 2)
  assert.match(lines[1]!, /state degraded/)
})
