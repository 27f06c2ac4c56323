// Every transition of the path state machine, table-driven.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { nextPathState, type PathState, type PathSignals } from '../../../src/multipath/index.js'

const base: PathSignals = {
  repliesInARow: 5, overdueMs: 0, degradeAfterMs: 20, downAfterMs: 60, lossRatio: 0, isBackup: false, isAdminDown: false, isReportedSilent: false,
}

const cases: { name: string, from: PathState, signals: Partial<PathSignals>, to: PathState }[] = [
  { name: 'probing stays without replies', from: 'probing', signals: { repliesInARow: 0 }, to: 'probing' },
  { name: 'probing stays after one reply', from: 'probing', signals: { repliesInARow: 1 }, to: 'probing' },
  { name: 'probing -> up after two replies', from: 'probing', signals: { repliesInARow: 2 }, to: 'up' },
  { name: 'probing -> backup for a backup path', from: 'probing', signals: { repliesInARow: 2, isBackup: true }, to: 'backup' },
  { name: 'probing -> down when never answered', from: 'probing', signals: { repliesInARow: 0, overdueMs: 61 }, to: 'down' },
  { name: 'up stays in time', from: 'up', signals: {}, to: 'up' },
  { name: 'up stays at the degrade edge', from: 'up', signals: { overdueMs: 20 }, to: 'up' },
  { name: 'up -> degraded when overdue', from: 'up', signals: { overdueMs: 21 }, to: 'degraded' },
  { name: 'up -> degraded on heavy loss', from: 'up', signals: { lossRatio: 0.6 }, to: 'degraded' },
  { name: 'up -> down when silent', from: 'up', signals: { overdueMs: 61 }, to: 'down' },
  { name: 'degraded stays while loss is between thresholds', from: 'degraded', signals: { lossRatio: 0.4 }, to: 'degraded' },
  { name: 'degraded -> up when loss falls', from: 'degraded', signals: { lossRatio: 0.1 }, to: 'up' },
  { name: 'degraded -> down when silent', from: 'degraded', signals: { overdueMs: 100 }, to: 'down' },
  { name: 'backup stays backup', from: 'backup', signals: { isBackup: true }, to: 'backup' },
  { name: 'backup -> degraded when overdue', from: 'backup', signals: { isBackup: true, overdueMs: 30 }, to: 'degraded' },
  { name: 'backup -> down when silent', from: 'backup', signals: { isBackup: true, overdueMs: 61 }, to: 'down' },
  { name: 'backup -> up when made primary', from: 'backup', signals: {}, to: 'up' },
  { name: 'down stays without replies', from: 'down', signals: { repliesInARow: 0 }, to: 'down' },
  { name: 'down -> probing on the first reply', from: 'down', signals: { repliesInARow: 1 }, to: 'probing' },
  { name: 'down -> up on two replies at once', from: 'down', signals: { repliesInARow: 2 }, to: 'up' },
  { name: 'admin down wins over replies', from: 'up', signals: { isAdminDown: true }, to: 'down' },
  { name: 'up -> down when reported silent, in time by its own clock', from: 'up', signals: { isReportedSilent: true }, to: 'down' },
  { name: 'degraded -> down when reported silent', from: 'degraded', signals: { overdueMs: 30, isReportedSilent: true }, to: 'down' },
  { name: 'backup -> down when reported silent', from: 'backup', signals: { isBackup: true, isReportedSilent: true }, to: 'down' },
  { name: 'probing -> down when reported silent', from: 'probing', signals: { repliesInARow: 1, isReportedSilent: true }, to: 'down' },
  { name: 'a silence report does not hold a down path that answers', from: 'down', signals: { repliesInARow: 1, isReportedSilent: true }, to: 'probing' },
  { name: 'admin down holds a down path down', from: 'down', signals: { isAdminDown: true, repliesInARow: 9 }, to: 'down' },
]

for (const c of cases) {
  test(`path state: ${c.name}`, () => {
    assert.equal(nextPathState(c.from, { ...base, ...c.signals }), c.to)
  })
}
