import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isRepairInTime } from '../../../src/multipath/index.js'

test('isRepairInTime: a repair is worth sending only while it can arrive before the receiver skips the hole', () => {
  const cases: { name: string, plannedMs: number, repairMs: number, holdMs: number, inTime: boolean }[] = [
    { name: 'arrives before the hole opens', plannedMs: 1000, repairMs: 990, holdMs: 50, inTime: true },
    { name: 'arrives inside the hold', plannedMs: 1000, repairMs: 1040, holdMs: 50, inTime: true },
    { name: 'arrives as the hold ends', plannedMs: 1000, repairMs: 1050, holdMs: 50, inTime: true },
    { name: 'arrives after the skip', plannedMs: 1000, repairMs: 1050.5, holdMs: 50, inTime: false },
    { name: 'a longer hold waits for it', plannedMs: 1000, repairMs: 1100, holdMs: 250, inTime: true },
    { name: 'unknown plan: repair', plannedMs: NaN, repairMs: 5000, holdMs: 50, inTime: true },
    { name: 'unknown hold: repair', plannedMs: 1000, repairMs: 5000, holdMs: NaN, inTime: true },
  ]
  for (const c of cases) assert.equal(isRepairInTime(c.plannedMs, c.repairMs, c.holdMs), c.inTime, c.name)
})
