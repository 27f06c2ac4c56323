// The windowed minimum behind min RTT and the one-way delay baseline, with times passed in.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import { WindowedMin, RttEstimator, OneWayDelayTrend, MIN_FILTER_WINDOW_MS } from '../../../src/multipath/index.js'

test('WindowedMin: table of samples and the minimum it reports', () => {
  const cases: { name: string, samples: [number, number][], value: number }[] = [
    { name: 'empty', samples: [], value: Infinity },
    { name: 'one sample', samples: [[5, 0]], value: 5 },
    { name: 'lowest within the window', samples: [[5, 0], [3, 100], [9, 200]], value: 3 },
    // The old minimum ages out after a full window, but the newer half window's minimum remains:
    // it does not jump to whatever sample comes first (a queued one, say 40).
    { name: 'old minimum forgotten, recent one kept', samples: [[1, 0], [10, 600], [40, 1100]], value: 10 },
    { name: 'everything older than the window forgotten', samples: [[1, 0], [10, 600], [40, 2100]], value: 40 },
  ]
  for (const c of cases) {
    const m = new WindowedMin(1000)
    for (const [sample, at] of c.samples) m.add(sample, at)
    assert.equal(m.value, c.value, c.name)
  }
})

test('WindowedMin covers at least the last half window and nothing older than 1.5 windows (property)', () => {
  fc.assert(fc.property(
    fc.array(fc.record({ sample: fc.integer({ min: 0, max: 1000 }), gapMs: fc.integer({ min: 0, max: 700 }) }), { minLength: 1, maxLength: 200 }),
    (steps) => {
      const windowMs = 1000
      const m = new WindowedMin(windowMs)
      const seen: { sample: number, at: number }[] = []
      let now = 0
      for (const { sample, gapMs } of steps) {
        now += gapMs
        m.add(sample, now)
        seen.push({ sample, at: now })
        const minSince = (fromMs: number): number => Math.min(...seen.filter((s) => s.at > fromMs).map((s) => s.sample))
        assert.ok(m.value <= minSince(now - windowMs / 2), 'no sample of the last half window is lower')
        assert.ok(m.value >= Math.min(...seen.filter((s) => s.at >= now - 1.5 * windowMs).map((s) => s.sample)), 'nothing older than 1.5 windows counts')
      }
    },
  ))
})

test('min RTT and the one-way baseline do not jump to a queued sample when the window turns', () => {
  const rtt = new RttEstimator()
  const trend = new OneWayDelayTrend()
  // 20 ms paths: idle (20 ms) until 6 s, then behind a 30 ms queue; samples every 100 ms.
  for (let t = 0; t <= 1.5 * MIN_FILTER_WINDOW_MS + 1000; t += 100) {
    const queued = t >= 6000 ? 30 : 0
    rtt.addSample(20 + queued, t)
    trend.addSample(t, t + 10 + queued, t)
  }
  assert.equal(rtt.minRttMs, 50, 'once every idle sample is older than 1.5 windows, the queued ones are all there is')
  assert.equal(trend.latestQueueDelayMs(), 0, 'and the baseline moved with it')
  const mid = new RttEstimator()
  for (let t = 0; t <= MIN_FILTER_WINDOW_MS + 500; t += 100) mid.addSample(t >= 6000 ? 50 : 20, t)
  assert.equal(mid.minRttMs, 20, 'just past the window the idle samples of the last half window still count')
})
