// Drop-tail overflow against random loss (Path.overflowNeedsRun, hasNackRun) and the overflow
// ceiling on paced paths (AutoScheduler.pacedIgnoresOverflow).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Path, PathReceiver, AutoScheduler, createFeedback } from '../../../src/multipath/index.js'
import { hasNackRun } from '../../../src/multipath/path.js'

test('hasNackRun: three nacked sequences within six, in any order', () => {
  const cases: { nacks: number[], run: boolean }[] = [
    { nacks: [], run: false },
    { nacks: [5, 6], run: false },
    { nacks: [151, 159], run: false },
    { nacks: [130, 137, 151, 159], run: false },
    { nacks: [265, 268, 269], run: true },
    { nacks: [269, 265, 268], run: true },
    { nacks: [100, 200, 203, 206], run: true },
    { nacks: [100, 200, 203, 207], run: false },
  ]
  const scratch: number[] = []
  for (const c of cases) assert.equal(hasNackRun(c.nacks, c.nacks.length, scratch), c.run, c.nacks.join(','))
})

/**
 * 20 sends 1 ms apart; the bottleneck queue grows by 2 ms per packet (a burst into a filling
 * buffer), `missing` never arrive. Returns which units the path hands back for repair and which
 * it abandons as overflow.
 */
function lossAtFullQueue (missing: number[], needsRun: boolean): { lost: number[], abandoned: number[] } {
  const path = new Path(0)
  path.overflowNeedsRun = needsRun
  const receiver = new PathReceiver()
  const fb = createFeedback()
  const lost: number[] = []
  const abandoned: number[] = []
  for (let i = 0; i < 20; i++) path.onSend(1500, i, i)
  receiver.onPacket({ pathSeq: 0, txTimeMs: 0 }, 1500, 10)
  path.onFeedback(receiver.writeFeedback(10, fb), 20, lost, abandoned)
  for (let i = 1; i < 20; i++) {
    if (!missing.includes(i)) receiver.onPacket({ pathSeq: i, txTimeMs: i }, 1500, i + 10 + 2 * i)
  }
  path.onFeedback(receiver.writeFeedback(70, fb), 80, lost, abandoned)
  return { lost: lost.sort((a, b) => a - b), abandoned: abandoned.sort((a, b) => a - b) }
}

test('two random losses near the largest queue seen: overflow by default, repaired with overflowNeedsRun', () => {
  assert.deepEqual(lossAtFullQueue([12, 17], false), { lost: [], abandoned: [12, 17] })
  assert.deepEqual(lossAtFullQueue([12, 17], true), { lost: [12, 17], abandoned: [] })
})

/** A path up and out of rate startup at 20 Mbit/s with RTT `rttMs`; paced: its pacer at the planning rate. */
function steadyPath (id: number, rttMs: number, isPaced: boolean): Path {
  const p = new Path(id, { isPaced })
  p.addRttSample(rttMs, 0)
  p.addDeliveryRateSample(20e6, 0)
  p.rate.endStartup(0)
  p.state = 'up'
  if (isPaced) {
    p.rate.gain = 1
    p.pacer.setRate(p.planningRateBitsPerSec(), 0)
  }
  return p
}

test('a run of losses near the largest queue seen is overflow either way (not repaired)', () => {
  for (const needsRun of [false, true]) {
    assert.deepEqual(lossAtFullQueue([14, 16, 17], needsRun), { lost: [], abandoned: [14, 16, 17] }, `needsRun ${needsRun}`)
  }
})

test('auto: a paced path over its overflow ceiling is skipped, unless pacedIgnoresOverflow (the queue is in our pacer)', () => {
  const paths = [steadyPath(0, 20, true)]
  paths[0]!.overflowQueueMs = 20
  paths[0]!.onSend(75_000, 0, 1) // 30 ms of queue at 20 Mbit/s: over 0.95 x 20, under every budget
  const out: Path[] = []
  for (const ignores of [false, true]) {
    const auto = new AutoScheduler()
    auto.pacedIgnoresOverflow = ignores
    assert.equal(auto.pick(paths, 1500, 0, out), ignores ? 1 : 0, `pacedIgnoresOverflow ${ignores}`)
  }
  // Unpaced, the queue is at the bottleneck: the ceiling holds with the option too.
  const unpaced = steadyPath(1, 20, false)
  unpaced.overflowQueueMs = 20
  unpaced.onSend(150_000, 0, 1) // over 0.95 x 20 ms in its model, under every budget
  const auto = new AutoScheduler()
  auto.pacedIgnoresOverflow = true
  assert.equal(auto.pick([unpaced], 1500, 0, out), 0)
})

test('auto: while a path loses >= 1 % at random, lossyBudgetExtraMs more standing queue is allowed on every path', () => {
  const make = (lossRatio: number): Path[] => [10, 60].map((oneWayMs, i) => {
    const p = steadyPath(i, 2 * oneWayMs, true)
    if (i === 1) p.loss.lossRatio = lossRatio
    p.onSend(500_000, 0, i) // 200 ms of queue at 20 Mbit/s...
    p.onSend(1500, 150, i) // ...of which 50 are left at 150 ms: the standing queue of the window from then
    return p
  })
  const out: Path[] = []
  const cases: { name: string, lossRatio: number, extraMs: number, picked: number }[] = [
    { name: 'clean paths, no extra: 50 ms is over the 40 ms budget', lossRatio: 0, extraMs: 0, picked: 0 },
    { name: 'clean paths: the extra does not apply', lossRatio: 0, extraMs: 20, picked: 0 },
    { name: 'a 5 % lossy path, no extra', lossRatio: 0.05, extraMs: 0, picked: 0 },
    { name: 'a 5 % lossy path: 40 + 20 ms allowed', lossRatio: 0.05, extraMs: 20, picked: 1 },
    { name: 'under 1 %: not lossy', lossRatio: 0.005, extraMs: 20, picked: 0 },
  ]
  for (const c of cases) {
    const paths = make(c.lossRatio)
    const auto = new AutoScheduler()
    auto.lossyBudgetExtraMs = c.extraMs
    assert.equal(auto.pick(paths, 1500, 150, out), c.picked, c.name)
  }
})
