// Table-driven tests of the per-path estimators, with times passed in (a fake clock).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  RttEstimator, OneWayDelayTrend, LossEstimator, RateEstimator, Pacer,
  MIN_FILTER_WINDOW_MS, RATE_WINDOW_MS, INITIAL_RATE_BITS_PER_SEC, STARTUP_FLAT_ROUNDS, MIN_ROUND_MS,
} from '../../../src/multipath/index.js'

test('RttEstimator follows RFC 6298 section 2', () => {
  const cases: { samples: number[], srtt: number, rttVar: number }[] = [
    { samples: [100], srtt: 100, rttVar: 50 },
    // second sample: rttvar = 3/4 * 50 + 1/4 * |100 - 60| = 47.5; srtt = 7/8 * 100 + 1/8 * 60 = 95
    { samples: [100, 60], srtt: 95, rttVar: 47.5 },
    { samples: [20, 20, 20], srtt: 20, rttVar: 10 * 0.75 * 0.75 },
  ]
  for (const c of cases) {
    const rtt = new RttEstimator()
    c.samples.forEach((s, i) => rtt.addSample(s, i * 10))
    assert.equal(rtt.srttMs, c.srtt, `srtt after ${c.samples.join(',')}`)
    assert.equal(rtt.rttVarMs, c.rttVar, `rttvar after ${c.samples.join(',')}`)
    assert.equal(rtt.rtoMs(), c.srtt + 4 * c.rttVar)
  }
})

test('RttEstimator ignores invalid samples and forgets an old minimum', () => {
  const rtt = new RttEstimator()
  rtt.addSample(-1, 0)
  rtt.addSample(NaN, 0)
  assert.equal(rtt.hasSample(), false)
  rtt.addSample(20, 0)
  rtt.addSample(50, 1000)
  assert.equal(rtt.minRttMs, 20)
  rtt.addSample(50, MIN_FILTER_WINDOW_MS + 1)
  assert.equal(rtt.minRttMs, 50, 'a minimum older than the window is replaced')
})

test('OneWayDelayTrend measures queueing whatever the clock offset', () => {
  fc.assert(fc.property(fc.integer({ min: -1e9, max: 1e9 }), fc.array(fc.integer({ min: 0, max: 200 }), { minLength: 2, maxLength: 50 }), (offset, queues) => {
    const trend = new OneWayDelayTrend()
    let t = 0
    for (const q of [0, ...queues]) {
      t += 10
      trend.addSample(t, t + 30 + q + offset, t + 30 + q)
    }
    assert.equal(trend.latestQueueDelayMs(), queues.at(-1))
    assert.ok(trend.queueDelayMs >= 0)
  }))
})

test('LossEstimator counts per-path spans', () => {
  const cases: { spans: [number, number][], lost: number, ratioAbove: number, ratioBelow: number }[] = [
    { spans: [[100, 100]], lost: 0, ratioAbove: -1, ratioBelow: 1e-12 },
    { spans: [[100, 95]], lost: 5, ratioAbove: 0.02, ratioBelow: 0.05 },
    { spans: Array.from({ length: 100 }, () => [100, 50] as [number, number]), lost: 5000, ratioAbove: 0.49, ratioBelow: 0.51 },
    { spans: [[0, 0], [10, 12]], lost: 0, ratioAbove: -1, ratioBelow: 1e-12 },
  ]
  for (const c of cases) {
    const loss = new LossEstimator()
    for (const [expected, received] of c.spans) loss.addSpan(expected, received)
    assert.equal(loss.lostPackets, c.lost)
    assert.ok(loss.lossRatio > c.ratioAbove && loss.lossRatio < c.ratioBelow, `ratio ${loss.lossRatio}`)
  }
})

test('LossEstimator: the steady ratio is the plain average at first, then moves far less than the fast one on the same spans', () => {
  const loss = new LossEstimator()
  loss.addSpan(20, 19)
  loss.addSpan(20, 20)
  assert.ok(Math.abs(loss.steadyRatio - 1 / 40) < 1e-12, `steady ${loss.steadyRatio}`)
  // 5 % loss in spans of 20 with one or two losses per span, in runs: the fast ratio swings, the steady one stays near 5 %.
  const random = ((seed) => () => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 })(7)
  let fastMin = 1; let fastMax = 0; let steadyMin = 1; let steadyMax = 0
  for (let i = 0; i < 2000; i++) {
    loss.addSpan(20, 20 - (random() < 0.05 * 20 / 1.5 ? (random() < 0.5 ? 1 : 2) : 0))
    if (i < 500) continue
    fastMin = Math.min(fastMin, loss.lossRatio); fastMax = Math.max(fastMax, loss.lossRatio)
    steadyMin = Math.min(steadyMin, loss.steadyRatio); steadyMax = Math.max(steadyMax, loss.steadyRatio)
  }
  assert.ok(steadyMin > 0.03 && steadyMax < 0.07, `steady ${steadyMin}..${steadyMax}`)
  assert.ok(steadyMax - steadyMin < (fastMax - fastMin) / 2, `steady ${steadyMin}..${steadyMax}, fast ${fastMin}..${fastMax}`)
  loss.setRatio(0.2)
  assert.equal(loss.steadyRatio, 0.2)
})

test('RateEstimator: windowed max, app-limited samples never lower it, window expiry', () => {
  const rate = new RateEstimator()
  assert.equal(rate.estimateBitsPerSec, INITIAL_RATE_BITS_PER_SEC)
  rate.addSample(10e6, 0, false)
  rate.addSample(8e6, 100, false)
  assert.equal(rate.estimateBitsPerSec, 10e6, 'max of the window')
  rate.addSample(1e6, 200, true)
  assert.equal(rate.estimateBitsPerSec, 10e6, 'an app-limited sample does not lower it')
  rate.addSample(12e6, 300, true)
  assert.equal(rate.estimateBitsPerSec, 12e6, 'an app-limited sample may raise it')
  rate.addSample(5e6, RATE_WINDOW_MS + 400, false)
  rate.addSample(5e6, 2 * RATE_WINDOW_MS + 500, false)
  assert.equal(rate.estimateBitsPerSec, 5e6, 'old maxima age out')
})

test('RateEstimator: a path left idle keeps what it proved until it has been measured busy for half a window', () => {
  const rate = new RateEstimator()
  rate.addSample(10e6, 0, false)
  rate.addSample(2e6, 10_000, false) // the first busy sample after ten quiet seconds
  assert.equal(rate.estimateBitsPerSec, 10e6, 'one sample after a quiet spell is not the whole estimate')
  rate.addSample(2e6, 10_000 + RATE_WINDOW_MS / 2, false)
  assert.equal(rate.estimateBitsPerSec, 2e6, 'half a window of busy samples replaces it')
})

test('RateEstimator: startup ends after flat rounds, then cycles probe gains; backOff drops to delivery', () => {
  const rate = new RateEstimator()
  let t = 0
  rate.advance(t, 20)
  assert.equal(rate.inStartup, true)
  assert.equal(rate.gain, 2)
  for (let round = 0; round < STARTUP_FLAT_ROUNDS + 1; round++) {
    t += MIN_ROUND_MS
    rate.addSample(10e6, t, false)
    rate.advance(t, 20)
  }
  assert.equal(rate.inStartup, false)
  const gains = new Set<number>()
  for (let i = 0; i < 8; i++) { t += MIN_ROUND_MS; rate.advance(t, 20); gains.add(rate.gain) }
  assert.deepEqual([...gains].sort(), [0.9, 1, 1.25])
  rate.addSample(4e6, t, false)
  rate.backOff(t)
  assert.equal(rate.estimateBitsPerSec, 0.85 * 10e6, "at most one factor per back-off")
  rate.backOff(t); rate.backOff(t); rate.backOff(t); rate.backOff(t); rate.backOff(t)
  assert.equal(rate.estimateBitsPerSec, 4e6, "down to what was delivered")
})

test('Pacer drains at its rate, predicts queueing, and re-anchors to measurements', () => {
  const pacer = new Pacer()
  pacer.setRate(8e6, 0) // 1 byte per microsecond: 1000 bytes per ms
  pacer.onSend(10_000, 0)
  assert.equal(pacer.queueDelayMs(0, 0), 10)
  assert.equal(pacer.queueDelayMs(1000, 4), 7) // 6000 left + 1000
  assert.equal(pacer.sendTimeMs(1000, 3000, 4), 8) // 6000 + 1000 - 3000 = 4000 bytes to drain
  assert.equal(pacer.queueDelayMs(0, 100), 0)
  pacer.correct(20, 0, 100) // the path really queued 20 ms more than predicted: half of it applied
  assert.equal(pacer.queueDelayMs(0, 100), 10)
  pacer.correct(0, 50, 100)
  assert.equal(pacer.backlogBytes, 0, 'never negative')
})

test('Pacer: a paced unit may leave ahead of the pace schedule; the departure model keeps a correction that says so', () => {
  // 8 Mbit/s = 1000 bytes per ms; the caller paces with a 2000-byte burst.
  const pacer = new Pacer()
  pacer.setRate(8e6, 0)
  pacer.burstBytes = 2000
  for (let i = 0; i < 3; i++) pacer.onSend(1000, 0)
  assert.equal(pacer.queueDelayMs(0, 0), 3, 'departures follow the pace schedule until measured otherwise')
  // Measured: a unit left 1 ms earlier than predicted (the link is faster than our estimate).
  pacer.correct(1, 2, 0)
  assert.equal(pacer.correctedMs, -0.5, 'half of it applied, and the shift is summed')
  assert.equal(pacer.queueDelayMs(1000, 0), 3.5)
  pacer.onSend(1000, 0)
  assert.equal(pacer.queueDelayMs(1000, 0), 4.5, 'the correction survives the next send')
  assert.equal(pacer.sendTimeMs(1000, 2000, 0), 3, 'the pace schedule (the caller\'s real queue) is not moved')
  const unpaced = new Pacer()
  unpaced.setRate(8e6, 0)
  for (let i = 0; i < 3; i++) unpaced.onSend(1000, 0)
  unpaced.correct(1, 2, 0)
  assert.equal(unpaced.sendTimeMs(1000, 1000, 0), 2.5, 'without pacing the two schedules are one')
})

test('Pacer: a rate change re-prices only what is sent after it (the pace queue fixed earlier release times)', () => {
  // rate in Mbit/s, bytes sent, at ms; then the queue delay asked for at `atMs`.
  const cases: { name: string, steps: { rate?: number, send?: number, atMs: number }[], askAtMs: number, queueMs: number }[] = [
    // 8 Mbit/s = 1000 bytes per ms: 10 kB queued at 0 drains at 10 ms; raising the rate at 2 ms
    // does not make it drain earlier (8 ms left at 2 ms, 4 ms left at 6 ms).
    { name: 'rate up mid-backlog', steps: [{ rate: 8e6, atMs: 0 }, { send: 10_000, atMs: 0 }, { rate: 16e6, atMs: 2 }], askAtMs: 6, queueMs: 4 },
    // ...but a send after the change serialises at the new rate: 4 kB at 2000 bytes/ms = 2 ms more.
    { name: 'new sends at the new rate', steps: [{ rate: 8e6, atMs: 0 }, { send: 10_000, atMs: 0 }, { rate: 16e6, atMs: 2 }, { send: 4000, atMs: 2 }], askAtMs: 6, queueMs: 6 },
    { name: 'rate down mid-backlog', steps: [{ rate: 8e6, atMs: 0 }, { send: 10_000, atMs: 0 }, { rate: 4e6, atMs: 5 }], askAtMs: 5, queueMs: 5 },
    { name: 'idle time is not credited', steps: [{ rate: 8e6, atMs: 0 }, { send: 1000, atMs: 0 }, { send: 1000, atMs: 100 }], askAtMs: 100, queueMs: 1 },
  ]
  for (const c of cases) {
    const pacer = new Pacer()
    for (const step of c.steps) {
      if (step.rate !== undefined) pacer.setRate(step.rate, step.atMs)
      if (step.send !== undefined) pacer.onSend(step.send, step.atMs)
    }
    assert.equal(pacer.queueDelayMs(0, c.askAtMs), c.queueMs, c.name)
  }
  const pacer = new Pacer()
  pacer.setRate(8e6, 0)
  pacer.onSend(10_000, 0)
  pacer.reset(3)
  assert.equal(pacer.queueDelayMs(0, 3), 0, 'reset (path down) forgets the backlog')
})

test('Pacer: release times a pacing caller gets never go backwards while the rate holds (property)', () => {
  fc.assert(fc.property(fc.array(fc.record({ bytes: fc.integer({ min: 1, max: 1500 }), gapMs: fc.integer({ min: 0, max: 5 }) }), { minLength: 1, maxLength: 100 }), (sends) => {
    const pacer = new Pacer()
    pacer.setRate(10e6, 0)
    let now = 0
    let last = -Infinity
    for (const { bytes, gapMs } of sends) {
      now += gapMs
      const release = pacer.sendTimeMs(bytes, 1500, now)
      assert.ok(release >= now && release >= last - 1e-9)
      last = release
      pacer.onSend(bytes, now)
    }
  }))
})

test('RateEstimator: endStartup keeps the estimate and drains next', () => {
  const rate = new RateEstimator()
  rate.addSample(12e6, 0, false)
  rate.endStartup(0)
  assert.equal(rate.inStartup, false)
  assert.equal(rate.estimateBitsPerSec, 12e6, 'a full pipe was measured: no back-off')
  assert.equal(rate.gain, 0.9, 'the queue startup built drains first')
})

test('RateEstimator: restartStartup searches again from the estimate with startup\'s gain, and ends like a first startup', () => {
  const rate = new RateEstimator()
  rate.addSample(0.1e6, 0, false)
  rate.endStartup(0)
  rate.restartStartup(10)
  assert.equal(rate.inStartup, true)
  assert.equal(rate.gain, 2)
  assert.equal(rate.estimateBitsPerSec, 0.1e6, 'the estimate is kept: it is where the search starts')
  // Growing samples keep it in startup; flat rounds end it.
  let t = 10
  for (const bps of [0.2e6, 0.4e6, 0.8e6]) { t += MIN_ROUND_MS; rate.addSample(bps, t, false); rate.advance(t, 20) }
  assert.equal(rate.inStartup, true)
  for (let i = 0; i <= STARTUP_FLAT_ROUNDS; i++) { t += MIN_ROUND_MS; rate.addSample(0.8e6, t, false); rate.advance(t, 20) }
  assert.equal(rate.inStartup, false)
  assert.equal(rate.estimateBitsPerSec, 0.8e6)
})

test('RateEstimator: restartStartup with a floor searches from the floor when the estimate is under it, in startup or not; a higher estimate is kept', () => {
  const inStartup = new RateEstimator()
  inStartup.addSample(0.02e6, 0, false) // startup's guess replaced by a probe's rate
  assert.equal(inStartup.estimateBitsPerSec, 0.02e6)
  inStartup.restartStartup(10, INITIAL_RATE_BITS_PER_SEC)
  assert.equal(inStartup.inStartup, true)
  assert.equal(inStartup.estimateBitsPerSec, INITIAL_RATE_BITS_PER_SEC)
  const out = new RateEstimator()
  out.addSample(0.1e6, 0, false)
  out.endStartup(0)
  out.restartStartup(10, INITIAL_RATE_BITS_PER_SEC)
  assert.equal(out.inStartup, true)
  assert.equal(out.estimateBitsPerSec, INITIAL_RATE_BITS_PER_SEC)
  const fast = new RateEstimator()
  fast.addSample(50e6, 0, false)
  fast.restartStartup(10, INITIAL_RATE_BITS_PER_SEC)
  assert.equal(fast.estimateBitsPerSec, 50e6)
})

test('RateEstimator.setFromPacketPair: a guess in startup becomes the measured rate at gain 1; a path with delivery samples keeps them', () => {
  const cases: { name: string, delivered: number | undefined, pairBps: number, taken: boolean, estimate: number }[] = [
    { name: 'startup, nothing delivered yet', delivered: undefined, pairBps: 9.5e6, taken: true, estimate: 9.5e6 },
    { name: 'a delivery sample came first', delivered: 4e6, pairBps: 9.5e6, taken: false, estimate: 4e6 },
    { name: 'a zero gap (infinite rate)', delivered: undefined, pairBps: Infinity, taken: false, estimate: INITIAL_RATE_BITS_PER_SEC },
  ]
  for (const c of cases) {
    const rate = new RateEstimator()
    if (c.delivered !== undefined) rate.addSample(c.delivered, 0, false)
    assert.equal(rate.setFromPacketPair(c.pairBps, 10), c.taken, c.name)
    assert.equal(rate.estimateBitsPerSec, c.estimate, c.name)
    assert.equal(rate.inStartup, !c.taken, c.name)
    if (c.taken) assert.equal(rate.gain, 1, c.name)
  }
  // Later delivery samples above the pair's rate still raise it (the windowed max).
  const rate = new RateEstimator()
  rate.setFromPacketPair(9.5e6, 0)
  rate.addSample(10e6, 10, false)
  assert.equal(rate.estimateBitsPerSec, 10e6)
})

test('RateEstimator.setFromPacketPair with keepsFloor: lower delivery samples do not wear the estimate under the pair; higher ones raise it; a back-off or a restarted startup forgets it', () => {
  const cases: { name: string, keepsFloor: boolean, samples: number[], forget?: 'backOff' | 'restartStartup', estimate: number }[] = [
    { name: 'no floor: two half-windows of lower samples take it down', keepsFloor: false, samples: [9.4e6, 9.3e6], estimate: 9.3e6 },
    { name: 'floor: the same samples leave the pair\'s rate', keepsFloor: true, samples: [9.4e6, 9.3e6], estimate: 9.5e6 },
    { name: 'floor: a higher sample still raises it', keepsFloor: true, samples: [9.8e6], estimate: 9.8e6 },
    { name: 'floor, then a back-off: the delivered rate again', keepsFloor: true, samples: [9.4e6], forget: 'backOff', estimate: 9.4e6 },
    { name: 'floor, then a restarted startup: gone too', keepsFloor: true, samples: [], forget: 'restartStartup', estimate: 9.5e6 },
  ]
  for (const c of cases) {
    const rate = new RateEstimator()
    assert.equal(rate.setFromPacketPair(9.5e6, 0, c.keepsFloor), true, c.name)
    assert.equal(rate.pairFloorBitsPerSec, c.keepsFloor ? 9.5e6 : 0, c.name)
    if (c.forget === 'backOff') { rate.addSample(c.samples[0]!, 1, false); rate.backOff(2) }
    if (c.forget === 'restartStartup') rate.restartStartup(2)
    if (c.forget !== undefined) assert.equal(rate.pairFloorBitsPerSec, 0, c.name)
    // One sample per half window (RATE_WINDOW_MS / 2 = 1 s): the earlier maxima age out.
    if (c.forget === undefined) c.samples.forEach((bps, i) => rate.addSample(bps, 1000 * (i + 1), false))
    if (c.forget === undefined && c.samples.length > 1) rate.addSample(c.samples[c.samples.length - 1]!, 1000 * (c.samples.length + 1), false)
    assert.equal(rate.estimateBitsPerSec, c.estimate, c.name)
  }
})

test('Pacer.onUnpacedSend: a packet sent outside the pace queue delays only what is queued behind it', () => {
  // 8 Mbit/s = 1000 bytes per ms (link and pace rate alike); a 64-byte control packet is 0.064 ms.
  const cases: { name: string, burstBytes: number, queuedBytes: number, askAtMs: number, queueMs: number, sendTimeMs: number }[] = [
    { name: 'idle path: gone before anything follows, nothing moves', burstBytes: 0, queuedBytes: 0, askAtMs: 0, queueMs: 0, sendTimeMs: 0 },
    { name: 'unpaced, 5 ms queued: one schedule, 0.064 ms later', burstBytes: 0, queuedBytes: 5000, askAtMs: 0, queueMs: 5.064, sendTimeMs: 5.064 },
    { name: 'paced, 5 ms queued: pace and departure schedules both 0.064 ms later', burstBytes: 2000, queuedBytes: 5000, askAtMs: 0, queueMs: 5.064, sendTimeMs: 4.064 },
    { name: 'queue drained by the time it is sent: nothing moves', burstBytes: 2000, queuedBytes: 5000, askAtMs: 6, queueMs: 0, sendTimeMs: 6 },
  ]
  for (const c of cases) {
    const pacer = new Pacer()
    pacer.setRate(8e6, 0)
    pacer.burstBytes = c.burstBytes
    if (c.queuedBytes > 0) pacer.onSend(c.queuedBytes, 0)
    const correctedBefore = pacer.correctedMs
    pacer.onUnpacedSend(64, c.askAtMs)
    assert.ok(Math.abs(pacer.queueDelayMs(0, c.askAtMs) - c.queueMs) < 1e-9, `${c.name}: queue ${pacer.queueDelayMs(0, c.askAtMs)}`)
    assert.ok(Math.abs(pacer.sendTimeMs(1000, Math.max(1000, c.burstBytes), c.askAtMs) - c.sendTimeMs) < 1e-9,
      `${c.name}: next release ${pacer.sendTimeMs(1000, Math.max(1000, c.burstBytes), c.askAtMs)}`)
    assert.equal(pacer.correctedMs, correctedBefore, `${c.name}: bytes sent, not a correction`)
  }
})
