// Scheduler invariants as properties over random path sets, plus a few exact cases.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import fc from 'fast-check'
import {
  Path, AutoScheduler, WeightedScheduler, RedundantScheduler, createScheduler, pickSparse, hasSameDelayPeer, type PathState, type Scheduler,
} from '../../../src/multipath/index.js'

const states: PathState[] = ['probing', 'up', 'degraded', 'down', 'backup']

interface PathSpec { state: PathState, isBackup: boolean, rttMs: number, rateMbps: number, queuedBytes: number, weight: number }

const pathSpec = fc.record({
  state: fc.constantFrom(...states),
  isBackup: fc.boolean(),
  rttMs: fc.integer({ min: 1, max: 300 }),
  rateMbps: fc.integer({ min: 1, max: 100 }),
  queuedBytes: fc.integer({ min: 0, max: 200_000 }),
  weight: fc.integer({ min: 0, max: 10 }),
})

function makePaths (specs: PathSpec[]): Path[] {
  return specs.map((s, i) => {
    const p = new Path(i, { preference: s.isBackup ? 'backup' : 'primary', weight: s.weight })
    p.addRttSample(s.rttMs, 0)
    p.addDeliveryRateSample(s.rateMbps * 1e6, 0)
    p.onSend(s.queuedBytes, 0)
    // A backup path that is alive shows as 'backup'; a primary never does.
    p.state = s.state === 'backup' && !s.isBackup ? 'up' : s.state === 'up' && s.isBackup ? 'backup' : s.state
    return p
  })
}

const isPrimaryUp = (p: Path): boolean => p.preference === 'primary' && p.state === 'up'

function checkInvariants (scheduler: Scheduler, paths: Path[], out: Path[], n: number): void {
  const chosen = out.slice(0, n)
  for (const p of chosen) assert.notEqual(p.state, 'down', 'never a down path')
  if (chosen.some((p) => p.preference === 'backup')) assert.ok(!paths.some(isPrimaryUp), 'backup only when no primary is up')
  if (paths.some((p) => p.state !== 'down') && scheduler.kind !== 'auto') assert.ok(n >= 1, 'some usable path is always used')
  if (paths.every((p) => p.state === 'down')) assert.equal(n, 0)
}

for (const kind of ['auto', 'weighted', 'redundant'] as const) {
  test(`${kind}: never a down path; backup only when no primary is up`, () => {
    fc.assert(fc.property(fc.array(pathSpec, { minLength: 1, maxLength: 6 }), fc.integer({ min: 1, max: 9000 }), (specs, bytes) => {
      const paths = makePaths(specs)
      const scheduler = createScheduler(kind, () => 0.5)
      const out: Path[] = []
      for (let i = 0; i < 5; i++) checkInvariants(scheduler, paths, out, scheduler.pick(paths, bytes, i, out))
    }))
  })
}

test('redundant covers every up or degraded primary when any is, and nothing else', () => {
  fc.assert(fc.property(fc.array(pathSpec, { minLength: 1, maxLength: 6 }), (specs) => {
    const paths = makePaths(specs)
    const out: Path[] = []
    const n = new RedundantScheduler().pick(paths, 1000, 0, out)
    const usablePrimaries = paths.filter((p) => p.preference === 'primary' && (p.state === 'up' || p.state === 'degraded'))
    if (usablePrimaries.length > 0) assert.deepEqual(new Set(out.slice(0, n)), new Set(usablePrimaries))
  }))
})

test('redundant keeps sending on a degraded primary beside an up one; backups join only when no primary is usable', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 20, queuedBytes: 0, weight: 1 },
    { state: 'degraded', isBackup: false, rttMs: 20, rateMbps: 8, queuedBytes: 0, weight: 1 },
    { state: 'backup', isBackup: true, rttMs: 20, rateMbps: 8, queuedBytes: 0, weight: 1 },
  ])
  const out: Path[] = []
  assert.deepEqual(out.slice(0, new RedundantScheduler().pick(paths, 1000, 0, out)).map((p) => p.id), [0, 1])
  paths[0]!.state = 'down'
  paths[1]!.state = 'down'
  assert.deepEqual(out.slice(0, new RedundantScheduler().pick(paths, 1000, 0, out)).map((p) => p.id), [2])
})

test('weighted round robin gives 75/25 exactly over every 4 units', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 10, queuedBytes: 0, weight: 75 },
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 10, queuedBytes: 0, weight: 25 },
  ])
  const scheduler = new WeightedScheduler('round-robin')
  const out: Path[] = []
  const counts = [0, 0]
  for (let i = 0; i < 400; i++) { scheduler.pick(paths, 1000, i, out); counts[out[0]!.id]!++ }
  assert.deepEqual(counts, [300, 100])
})

test('weighted random follows the weights with the injected random source', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 10, queuedBytes: 0, weight: 2 },
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 10, queuedBytes: 0, weight: 1 },
  ])
  const draws = [0.1, 0.5, 0.66, 0.67, 0.99]
  let i = 0
  const scheduler = new WeightedScheduler('random', () => draws[i++]!)
  const out: Path[] = []
  const picked = draws.map(() => { scheduler.pick(paths, 1000, 0, out); return out[0]!.id })
  assert.deepEqual(picked, [0, 0, 0, 1, 1])
})

test('auto: an idle bond uses the lower-delay path alone, a loaded one fills the other path too', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 20, queuedBytes: 0, weight: 1 },
    { state: 'up', isBackup: false, rttMs: 120, rateMbps: 10, queuedBytes: 0, weight: 1 },
  ])
  const scheduler = new AutoScheduler()
  const out: Path[] = []
  scheduler.pick(paths, 1500, 0, out)
  assert.equal(out[0]!.id, 0)
  // A 300-packet burst at once: the fast path's queue passes the fill threshold, the slow one gets some.
  const counts = [0, 0]
  for (let i = 0; i < 300; i++) {
    assert.equal(scheduler.pick(paths, 1500, 0, out), 1)
    out[0]!.onSend(1500, 0)
    counts[out[0]!.id]!++
  }
  assert.ok(counts[1]! > 0 && counts[0]! > counts[1]!, `split ${counts.join('/')}`)
})

test('auto: refuses only when every path is over its queue budget', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 8, queuedBytes: 0, weight: 1 },
  ])
  const path = paths[0]!
  // Leave startup so the estimate is trusted, then queue far past the burst budget.
  for (let t = 0; t < 2000; t += 50) { path.addDeliveryRateSample(8e6, t); path.markHeard(t) }
  assert.equal(path.rate.inStartup, false)
  const scheduler = new AutoScheduler()
  const out: Path[] = []
  assert.equal(scheduler.pick(paths, 1500, 2000, out), 1)
  path.onSend(1_000_000, 2000) // 1 s of queue at 8 Mbit/s
  assert.equal(scheduler.pick(paths, 1500, 2000, out), 0)
  assert.equal(scheduler.refused, 1)
})

test('auto ranks paths by one-way delay when both have it, not by half their RTT', () => {
  // Path 0: 10 ms out, 50 ms back (RTT 60). Path 1: 25 ms each way (RTT 50). Half the RTT says
  // path 1 (25 < 30); the one-way stamps say path 0 arrives first (10 < 25).
  const paths = [0, 1].map((i) => {
    const p = new Path(i)
    p.addDeliveryRateSample(100e6, 0)
    p.state = 'up'
    return p
  })
  paths[0]!.addRttSample(60, 0)
  paths[1]!.addRttSample(50, 0)
  const out: Path[] = []
  const auto = new AutoScheduler()
  assert.equal(auto.pick(paths, 1000, 0, out), 1)
  assert.equal(out[0], paths[1], 'without one-way samples: half the RTT decides')
  // Same sender and receiver clocks (offset 1000 ms, unknown to us): rel = one-way + offset.
  paths[0]!.delay.addSample(0, 1010, 0)
  paths[1]!.delay.addSample(0, 1025, 0)
  assert.equal(auto.pick(paths, 1000, 0, out), 1)
  assert.equal(out[0], paths[0], 'with one-way samples: the path that really arrives first')
})

test('pickSparse: never a down path, backup only when no primary is up, some path whenever one is usable (property)', () => {
  fc.assert(fc.property(fc.array(pathSpec, { minLength: 1, maxLength: 6 }), (specs) => {
    const paths = makePaths(specs)
    const out: Path[] = []
    const n = pickSparse(paths, 100, 0, out)
    assert.equal(n, paths.some((p) => p.state !== 'down') ? 1 : 0)
    if (n === 1) {
      assert.notEqual(out[0]!.state, 'down')
      if (out[0]!.preference === 'backup') assert.ok(!paths.some(isPrimaryUp))
    }
  }))
})

test('pickSparse skips the bulk queued in our pacer on a paced path, not a queue at an unpaced bottleneck', () => {
  const cases: { name: string, isPaced: boolean, queuedOnFast: number, chosen: number }[] = [
    // Path 0: 10 ms one-way, 20 Mbit/s with 100 kB (40 ms) queued; path 1: 60 ms one-way, idle.
    { name: 'paced: the queue is ours, the ping skips it', isPaced: true, queuedOnFast: 100_000, chosen: 0 },
    { name: 'unpaced: the queue is at the bottleneck, 10 + 40 < 60 still wins', isPaced: false, queuedOnFast: 100_000, chosen: 0 },
    { name: 'unpaced: 10 + 80 ms of bottleneck queue loses to 60', isPaced: false, queuedOnFast: 200_000, chosen: 1 },
    { name: 'paced: 80 ms of our own queue does not count', isPaced: true, queuedOnFast: 200_000, chosen: 0 },
  ]
  for (const c of cases) {
    const paths = [10, 60].map((oneWayMs, i) => {
      const p = new Path(i, { isPaced: c.isPaced })
      p.addRttSample(2 * oneWayMs, 0)
      p.delay.addSample(0, oneWayMs, 0)
      p.addDeliveryRateSample(20e6, 0)
      p.rate.inStartup = false
      p.rate.gain = 1
      p.pacer.setRate(p.planningRateBitsPerSec(), 0)
      p.state = 'up'
      return p
    })
    paths[0]!.onSend(c.queuedOnFast, 0)
    const out: Path[] = []
    assert.equal(pickSparse(paths, 100, 0, out), 1, c.name)
    assert.equal(out[0]!.id, c.chosen, c.name)
  }
})

test('auto: units split over two paced paths of equal delay arrive in order, never in a near tie, at the paths\' full rates', () => {
  const paths = [20e6, 10e6].map((rate, i) => {
    const p = new Path(i, { isPaced: true })
    p.addRttSample(70, 0)
    p.addDeliveryRateSample(rate, 0)
    p.rate.inStartup = false
    p.state = 'up'
    p.update(0)
    return p
  })
  const auto = new AutoScheduler()
  const out: Path[] = []
  const bytes = 1500
  const arrivals: { path: number, atMs: number }[] = []
  for (let i = 0; i < 300; i++) {
    assert.equal(auto.pick(paths, bytes, 0, out), 1)
    const p = out[0]!
    arrivals.push({ path: p.id, atMs: p.expectedArrivalMs(bytes, 0) })
    p.onSend(bytes, 0, i)
  }
  const spacingMs = (0.4 * bytes * 8000) / paths[0]!.planningRateBitsPerSec()
  for (let i = 1; i < arrivals.length; i++) {
    const gapMs = arrivals[i]!.atMs - arrivals[i - 1]!.atMs
    assert.ok(gapMs > 0, `unit ${i} is expected after unit ${i - 1}`)
    if (arrivals[i]!.path !== arrivals[i - 1]!.path) assert.ok(gapMs >= spacingMs - 1e-9, `unit ${i} on another path ${gapMs} ms after the one before`)
  }
  const onSlow = arrivals.filter((a) => a.path === 1).length
  assert.ok(onSlow >= 95 && onSlow <= 105, `the 10 Mbit/s path carries a third (${onSlow} of 300)`)
  const idealMs = 35 + (300 * bytes * 8000) / (paths[0]!.planningRateBitsPerSec() + paths[1]!.planningRateBitsPerSec())
  assert.ok(arrivals[arrivals.length - 1]!.atMs < idealMs + 2, `the spacing costs at most a few packet times (${arrivals[arrivals.length - 1]!.atMs} vs ${idealMs} ms)`)
  assert.ok(auto.spaced > 0 && auto.spaced < 10, `held ${auto.spaced} times: once per phase, not per unit`)
})

test('auto with a bottleneck budget: a path over it is skipped until its modelled queue drains (the caller holds the rest); nextRoomMs says when', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 20, queuedBytes: 0, weight: 1 },
    { state: 'up', isBackup: false, rttMs: 120, rateMbps: 10, queuedBytes: 0, weight: 1 },
  ])
  for (const p of paths) { p.rate.endStartup(0); p.rate.gain = 1; p.pacer.setRate(p.planningRateBitsPerSec(), 0) }
  const scheduler = new AutoScheduler(undefined, undefined, 5)
  const out: Path[] = []
  const counts = [0, 0]
  while (scheduler.pick(paths, 1500, 0, out) === 1) { out[0]!.onSend(1500, 0); counts[out[0]!.id]!++ }
  // 1500 bytes are 0.6 ms at 20 Mbit/s and 1.2 ms at 10: each path takes units while its queue is <= 5 ms.
  assert.deepEqual(counts, [9, 5])
  for (const p of paths) assert.ok(p.queueDelayMs(0, 0) <= 5 + (1500 * 8000) / p.planningRateBitsPerSec())
  const roomMs = scheduler.nextRoomMs(paths, 0)
  assert.ok(Math.abs(roomMs - (paths[0]!.queueDelayMs(0, 0) - 5)) < 1e-9, `room at ${roomMs}`)
  assert.equal(scheduler.pick(paths, 1500, roomMs - 0.01, out), 0)
  assert.equal(scheduler.pick(paths, 1500, roomMs, out), 1)
  assert.equal(out[0]!.id, 0, 'the fast path has room first')
  // A path in rate startup (capacity unknown) is never held to the budget; without a budget nothing is.
  paths[1]!.rate.restartStartup(0)
  assert.equal(scheduler.pick(paths, 1500, 0, out), 1)
  assert.equal(scheduler.nextRoomMs(paths, 0), 0)
  assert.equal(new AutoScheduler().nextRoomMs(paths, 0), Infinity)
})

test('auto: the tight bottleneck budget is the shortest path\'s (sparse flows go there); a longer path gets the looser one', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 20, queuedBytes: 0, weight: 1 },
    { state: 'up', isBackup: false, rttMs: 120, rateMbps: 10, queuedBytes: 0, weight: 1 },
  ])
  for (const p of paths) { p.rate.endStartup(0); p.rate.gain = 1; p.pacer.setRate(p.planningRateBitsPerSec(), 0) }
  const scheduler = new AutoScheduler(undefined, undefined, 5, 20)
  const out: Path[] = []
  const counts = [0, 0]
  while (scheduler.pick(paths, 1500, 0, out) === 1) { out[0]!.onSend(1500, 0); counts[out[0]!.id]!++ }
  // 0.6 ms per unit at 20 Mbit/s up to 5 ms; 1.2 ms per unit at 10 Mbit/s up to 20 ms.
  assert.deepEqual(counts, [9, 17])
  // The sparse flow's path is the short one, and its queue stays the short one.
  assert.equal(pickSparse(paths, 100, 0, out), 1)
  assert.equal(out[0]!.id, 0)
})

test('auto with keepsEqualDelayOrder: refuses rather than dodge a standing budget onto a path of equal delay where the unit arrives later; a longer path is still filled', () => {
  const setup = (slowRttMs: number): Path[] => {
    const paths = makePaths([
      { state: 'up', isBackup: false, rttMs: 40, rateMbps: 20, queuedBytes: 0, weight: 1 },
      { state: 'up', isBackup: false, rttMs: slowRttMs, rateMbps: 10, queuedBytes: 0, weight: 1 },
    ])
    for (const p of paths) { p.rate.endStartup(0); p.rate.gain = 1; p.pacer.setRate(p.planningRateBitsPerSec(), 0) }
    // Path 0 holds ~60 ms of queue for a whole standing window: over the 40 ms budget.
    paths[0]!.onSend(150_000, 0)
    for (let t = 1; t <= 100; t++) paths[0]!.onSend(2500, t)
    // Path 1 was empty when it got a burst: its standing queue is 0, its queue now ~72 ms.
    paths[1]!.onSend(90_000, 100)
    return paths
  }
  const out: Path[] = []
  const equal = setup(40)
  assert.ok(equal[0]!.standingQueueMs(100) > 40 && equal[1]!.standingQueueMs(100) < 40)
  assert.ok(equal[1]!.queueDelayMs(0, 100) > equal[0]!.queueDelayMs(0, 100))
  // Without the option the unit dodges onto path 1, behind its longer queue.
  assert.equal(new AutoScheduler().pick(equal, 1500, 100, out), 1)
  assert.equal(out[0]!.id, 1)
  const keeping = new AutoScheduler()
  keeping.keepsEqualDelayOrder = true
  assert.equal(keeping.pick(equal, 1500, 100, out), 0)
  assert.equal(keeping.refusedForOrder, 1)
  assert.equal(keeping.refused, 1)
  // A path of longer delay is filled on purpose (its skew is the reorder buffer's job).
  assert.equal(keeping.pick(setup(120), 1500, 100, out), 1)
  assert.equal(out[0]!.id, 1)
  assert.equal(keeping.refusedForOrder, 1)
})

test('auto with keepsEqualDelayOrder: of paths of equal delay in rate startup only the first carries data; the next once the first knows its rate; paths of other delays ramp up together', () => {
  const setup = (slowRttMs: number): Path[] => makePaths([
    { state: 'up', isBackup: false, rttMs: 40, rateMbps: 2, queuedBytes: 0, weight: 1 },
    { state: 'up', isBackup: false, rttMs: slowRttMs, rateMbps: 2, queuedBytes: 0, weight: 1 },
  ])
  const burst = (scheduler: AutoScheduler, paths: Path[], atMs: number): number[] => {
    const counts = [0, 0]
    for (let i = 0; i < 200; i++) {
      assert.equal(scheduler.pick(paths, 1500, atMs, out), 1)
      out[0]!.onSend(1500, atMs)
      counts[out[0]!.id]!++
    }
    return counts
  }
  const out: Path[] = []
  const keeping = (): AutoScheduler => { const s = new AutoScheduler(); s.keepsEqualDelayOrder = true; return s }
  const equal = setup(40)
  assert.ok(equal.every((p) => p.rate.inStartup))
  // Without the option a burst is split by the (guessed) model; with it, path 0 takes it all.
  assert.ok(burst(new AutoScheduler(), setup(40), 0)[1]! > 0)
  assert.deepEqual(burst(keeping(), equal, 0), [200, 0])
  // Path 0 knows its rate (startup over, its queue now far past the fill threshold): path 1 gets its share.
  equal[0]!.rate.endStartup(0)
  equal[0]!.rate.gain = 1
  const scheduler = keeping()
  assert.ok(burst(scheduler, equal, 0)[1]! > 0)
  // Paths of different delays are not held back.
  assert.ok(burst(keeping(), setup(120), 0)[1]! > 0)
})

test('auto with startupQueueCapMs: a path in rate startup is skipped once its modelled queue passes the cap; without it never', () => {
  const paths = makePaths([
    { state: 'up', isBackup: false, rttMs: 20, rateMbps: 20, queuedBytes: 0, weight: 1 },
    { state: 'up', isBackup: false, rttMs: 120, rateMbps: 2, queuedBytes: 0, weight: 1 },
  ])
  const fast = paths[0]!
  const slow = paths[1]!
  fast.rate.endStartup(0); fast.rate.gain = 1; fast.pacer.setRate(fast.planningRateBitsPerSec(), 0)
  assert.ok(slow.rate.inStartup)
  // The fast path far over every budget; the slow one in startup with ~300 ms of modelled queue (4 Mbit/s planned).
  fast.onSend(1_000_000, 0)
  slow.onSend(150_000, 0)
  assert.ok(slow.queueDelayMs(0, 0) > 150)
  const out: Path[] = []
  assert.equal(new AutoScheduler().pick(paths, 1500, 0, out), 1)
  assert.equal(out[0]!.id, 1)
  const capped = new AutoScheduler()
  capped.startupQueueCapMs = 150
  assert.equal(capped.pick(paths, 1500, 0, out), 0)
  assert.equal(capped.refused, 1)
  // Under the cap it is a candidate again.
  assert.equal(capped.pick(paths, 1500, slow.queueDelayMs(0, 0) - 149, out), 1)
  assert.equal(out[0]!.id, 1)
})

test('hasSameDelayPeer: another usable path measured within 1 ms of the same base delay', () => {
  const cases: { name: string, rtts: (number | undefined)[], states?: PathState[], same: boolean }[] = [
    { name: 'equal RTTs', rtts: [70, 70], same: true },
    { name: 'within 1 ms one-way (2 ms RTT)', rtts: [70, 71.8], same: true },
    { name: 'l1 10 ms, l2 60 ms one-way', rtts: [20, 120], same: false },
    { name: 'the other has no sample yet', rtts: [70, undefined], same: false },
    { name: 'the other is down', rtts: [70, 70], states: ['up', 'down'], same: false },
    { name: 'alone', rtts: [70], same: false },
  ]
  for (const c of cases) {
    const paths = c.rtts.map((rtt, i) => {
      const p = new Path(i)
      if (rtt !== undefined) p.addRttSample(rtt, 0)
      p.state = c.states?.[i] ?? 'up'
      return p
    })
    assert.equal(hasSameDelayPeer(paths, paths[0]!), c.same, c.name)
  }
})
