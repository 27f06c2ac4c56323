// `gst bench --seconds`: the argument parser (the command itself: test/integration/bench.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { UsageError } from '../../../src/errors.js'
import { DEFAULT_BENCH_SECONDS, parseBenchSeconds } from '../../../cmd/crypto-bench.js'

test('parseBenchSeconds: default, numbers and numeric strings', () => {
  assert.equal(parseBenchSeconds(undefined), DEFAULT_BENCH_SECONDS)
  assert.equal(parseBenchSeconds(1), 1)
  assert.equal(parseBenchSeconds('0.05'), 0.05)
  assert.equal(parseBenchSeconds(600), 600)
})

test('parseBenchSeconds: refuses what is not a positive number of seconds, naming the value', () => {
  for (const bad of [true, '', ' ', 'abc', 0, -1, '1e400', 'NaN', 601, 'Infinity']) {
    assert.throws(() => parseBenchSeconds(bad), (err: unknown) => err instanceof UsageError && /--seconds takes/.test(err.message), String(bad))
  }
})
