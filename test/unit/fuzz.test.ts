// A short run of every fuzz target (test/fuzz/targets); `npm run fuzz` runs a million inputs each.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { targets } from '../fuzz/targets/index.js'
import { runTarget } from '../fuzz/run.js'

const RUNS = Number(process.env.FUZZ_RUNS ?? 2000)

for (const target of targets) {
  test(`fuzz ${target.name}: ${target.about}`, async () => {
    const result = await runTarget(target, { runs: target.slow ? Math.min(RUNS, 300) : RUNS, batchRuns: RUNS })
    assert.equal(result.failures, 0, result.reports.join('\n'))
  })
}
