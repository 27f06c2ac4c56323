import { test } from 'node:test'
import assert from 'node:assert/strict'
import { PathChangeLog, type PathLine } from '../../../src/vpn/path-change-log.js'

/** Feeds (timeMs, state) steps for path 0; returns the lines with their times. */
function run (log: PathChangeLog, steps: Array<[number, string]>): Array<[number, PathLine]> {
  const out: Array<[number, PathLine]> = []
  for (const [t, state] of steps) {
    const line = log.observe(0, state, t)
    if (line) out.push([t, line])
  }
  return out
}

test('a path that goes down once and comes back logs one line each way, at once', () => {
  const lines = run(new PathChangeLog(30_000, 4), [[0, 'up'], [100, 'up'], [200, 'down'], [300, 'down'], [400, 'probing'], [500, 'up'], [600, 'up']])
  assert.deepEqual(lines, [[200, { kind: 'down' }], [500, { kind: 'up', state: 'up' }]])
})

test('probing is neither down nor up; degraded and backup count as back', () => {
  const lines = run(new PathChangeLog(), [[0, 'probing'], [10, 'down'], [20, 'probing'], [30, 'degraded'], [40, 'down'], [50, 'backup']])
  assert.deepEqual(lines.map(([, l]) => l), [{ kind: 'down' }, { kind: 'up', state: 'degraded' }, { kind: 'down' }, { kind: 'up', state: 'backup' }])
})

test('a flapping path: the first lines at once, then one summary per window with the count and where it stands', () => {
  const steps: Array<[number, string]> = []
  // down/up every second for 70 s, then stays up
  for (let s = 0; s < 70; s++) steps.push([s * 1000, 'down'], [s * 1000 + 500, 'up'])
  for (let s = 70; s < 130; s++) steps.push([s * 1000, 'up'])
  const lines = run(new PathChangeLog(30_000, 4), steps)
  assert.deepEqual(lines.slice(0, 4).map(([t, l]) => [t, l.kind]), [[0, 'down'], [500, 'up'], [1000, 'down'], [1500, 'up']])
  const summaries = lines.filter(([, l]) => l.kind === 'summary')
  // the quiet period starts at 2 s; one summary 30 s later, with the 30 downs and 30 ups seen since
  assert.deepEqual(summaries[0], [32_000, { kind: 'summary', downs: 31, ups: 30, state: 'down' }])
  // 140 changes in 70 s: 4 lines, then per window a summary (which counts as a line) and 3 lines
  assert.equal(lines.length, 4 + (1 + 3) + (1 + 3) + 1, JSON.stringify(lines))
  // nothing is lost: every change is either its own line or counted in a summary
  const downs = lines.reduce((n, [, l]) => n + (l.kind === 'down' ? 1 : l.kind === 'summary' ? l.downs : 0), 0)
  const ups = lines.reduce((n, [, l]) => n + (l.kind === 'up' ? 1 : l.kind === 'summary' ? l.ups : 0), 0)
  assert.equal(downs, 70)
  assert.equal(ups, 70)
  // once it has settled, the last summary says so and no line follows it
  const last = lines[lines.length - 1]!
  assert.equal(last[1].kind, 'summary')
  assert.equal((last[1] as { state: string }).state, 'up')
})

test('paths are independent, and a forgotten path starts afresh', () => {
  const log = new PathChangeLog(30_000, 2)
  assert.deepEqual(log.observe(0, 'down', 0), { kind: 'down' })
  assert.deepEqual(log.observe(1, 'down', 0), { kind: 'down' })
  assert.deepEqual(log.observe(0, 'up', 10), { kind: 'up', state: 'up' })
  assert.equal(log.observe(0, 'down', 20), undefined, 'path 0 used its two lines')
  assert.deepEqual(log.observe(1, 'up', 20), { kind: 'up', state: 'up' })
  log.forget(0)
  assert.equal(log.observe(0, 'up', 30), undefined, 'a fresh path that is up has nothing to say')
  assert.deepEqual(log.observe(0, 'down', 40), { kind: 'down' })
})
