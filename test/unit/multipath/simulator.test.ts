// The issue's scenarios in the discrete-event simulator, as regression tests on ratios and
// simulated milliseconds (never wall-clock): the real scheduler, estimators and reorder buffer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { runScenario, type ScenarioResult } from '../../../bench/sim/scenario.js'
import { issueScenarios } from '../../../bench/sim/scenarios.js'
import { gstDesign, glorytunDesign, mlvpnDesign } from '../../../bench/sim/designs.js'
import { HoldTracer } from '../../../bench/sim/hold-trace.js'
import type { UnitEvent } from '../../../bench/sim/tunnel.js'

const scenarios = new Map(issueScenarios().map((s) => [s.name, s]))
/** The scenarios with the inner flow's first window at 1 ms, before any RTT sample (the model before session 7): the A/Bs written against it. */
const oldStart = new Map(issueScenarios(1, false).map((s) => [s.name, s]))
const cache = new Map<string, ScenarioResult>()

function run (name: string, design: 'gst' | 'glorytun' | 'mlvpn'): ScenarioResult {
  const key = `${name}/${design}`
  const cached = cache.get(key)
  if (cached) return cached
  const scenario = scenarios.get(name)!
  const rates = scenario.links.map((l) => l.rateBitsPerSec)
  const d = design === 'gst' ? gstDesign() : design === 'glorytun' ? glorytunDesign(rates, 1) : mlvpnDesign(rates)
  const result = runScenario(scenario, d, 1)
  cache.set(key, result)
  return result
}

test('the simulator is deterministic for a seed', () => {
  const scenario = { ...scenarios.get('aggregate')!, durationMs: 3000, measureFromMs: 1000 }
  const a = runScenario(scenario, gstDesign(), 7)
  const b = runScenario(scenario, gstDesign(), 7)
  assert.deepEqual(a, b)
})

test('aggregate (20 Mbit/s 10 ms + 10 Mbit/s 60 ms, one flow): gst beats both baselines, nothing out of order', () => {
  const gst = run('aggregate', 'gst')
  assert.ok(gst.share >= 0.95, `gst share ${gst.share}`)
  assert.ok(gst.share > 2 * run('aggregate', 'glorytun').share)
  assert.ok(gst.share > run('aggregate', 'mlvpn').share)
  assert.equal(gst.outOfOrder, 0)
  assert.ok(run('aggregate', 'glorytun').outOfOrder > 0, 'the no-reordering baseline does reorder')
})

test('5 % loss on l2: gst keeps more than either baseline', () => {
  const gst = run('loss5-l2', 'gst')
  assert.ok(gst.share >= 0.5, `share ${gst.share}`)
  assert.ok(gst.goodputBitsPerSec > 3 * run('loss5-l2', 'glorytun').goodputBitsPerSec)
  assert.ok(gst.goodputBitsPerSec > 3 * run('loss5-l2', 'mlvpn').goodputBitsPerSec)
  assert.ok(gst.repairs > 0, 'random losses are repaired')
})

test('5 % loss on l2: FEC rebuilds most random losses and lifts the flow over gst without it', () => {
  const gst = run('loss5-l2', 'gst')
  const noFec = runScenario(scenarios.get('loss5-l2')!, gstDesign({ fec: false }), 1)
  assert.equal(noFec.fecParities, 0)
  assert.ok(gst.fecRebuilt > 100, `rebuilt ${gst.fecRebuilt}`)
  // 25.7 against 19.2 Mbit/s when written (25.6-25.7 against 18.7-19.2 with l1's delay moved a little).
  assert.ok(gst.goodputBitsPerSec > 1.2 * noFec.goodputBitsPerSec, `with FEC ${gst.goodputBitsPerSec}, without ${noFec.goodputBitsPerSec}`)
  // Issue 4's target: the better link plus 80 % of l2's 10 Mbit/s. Nack repairs ahead of the
  // pace queue shorten every hole that waits for one (26.24 against 25.47 Mbit/s when written),
  // a ceiling on a path's queue in rate startup keeps the inner flow's slow start from
  // overflowing l2 (27.24), and with repairs that cheap less parity and a nack that waits at
  // most 5 ms for one: 28.29 (28.13 / 28.30 with l1's delay moved a little).
  const queued = runScenario(scenarios.get('loss5-l2')!, gstDesign({ repairsAhead: false }), 1)
  assert.ok(gst.goodputBitsPerSec >= 28e6, `goodput ${gst.goodputBitsPerSec}`)
  assert.ok(gst.goodputBitsPerSec > queued.goodputBitsPerSec, `ahead ${gst.goodputBitsPerSec}, queued ${queued.goodputBitsPerSec}`)
  // Clean paths stay (nearly) without parity: at most a few around startup's overflow.
  const agg = run('aggregate', 'gst')
  assert.ok(agg.fecParities < 100, `aggregate parities ${agg.fecParities}`)
})

test('l2 blackholed while busy: stall <= 300 ms, back in use <= 1 s after restore', () => {
  const gst = run('cut-busy', 'gst')
  assert.ok(gst.longestStallMs <= 300, `stall ${gst.longestStallMs}`)
  assert.ok(gst.backInUseMs <= 1000, `back after ${gst.backInUseMs}`)
})

test('l2 blackholed while busy, l1 0.083 ms longer (317 ms and an RTO before session 7): a failing path\'s units are repaired only while they can fill their holes', () => {
  const scenario = oldStart.get('cut-busy')!
  const shifted = { ...scenario, links: scenario.links.map((l, i) => (i === 0 ? { ...l, delayMs: l.delayMs + 0.083 } : l)) }
  // sim10's A/B as written: late failover repairs still lengthen the hold (sim11's option off), which
  // keeps some repairs in time; with the option more come late (66 of 94), and that is its own test.
  // (Both without the tail feedback's repeat, which came later and moves this knife-edge's timing.)
  const gst = runScenario(shifted, gstDesign({ ignoresLateRepairs: false, repeatsTailFeedback: false }), 1)
  const before = runScenario(shifted, gstDesign({ dropsLateRepairs: false, timeoutFromLateness: false, ignoresLateRepairs: false, repeatsTailFeedback: false }), 1)
  // Before: every skipped hole's repair came after the skip (94 of 94 when written), queued behind
  // l1's pace queue, and that queue refused the inner flow's retransmission: an RTO. Now: 126 ms.
  assert.ok(gst.longestStallMs <= 300, `stall ${gst.longestStallMs}`)
  assert.ok(gst.tcpRtos < before.tcpRtos, `RTOs ${gst.tcpRtos}, before ${before.tcpRtos}`)
  assert.ok(gst.lateRepairsDropped > 0 && before.lateRepairsDropped === 0, `late repairs dropped ${gst.lateRepairsDropped}, before ${before.lateRepairsDropped}`)
  assert.ok(gst.lateArrivals < 0.5 * before.lateArrivals, `late arrivals ${gst.lateArrivals}, before ${before.lateArrivals}`)
})

test('l2 blackholed while busy, l1 0.077 ms longer (318 ms before sim11): a late failover repair does not lengthen the reorder hold', () => {
  const scenario = scenarios.get('cut-busy')!
  const shifted = { ...scenario, links: scenario.links.map((l, i) => (i === 0 ? { ...l, delayMs: l.delayMs + 0.077 } : l)) }
  // (Both without the tail feedback's repeat, which came later and moves this knife-edge's timing.)
  const gst = runScenario(shifted, gstDesign({ repeatsTailFeedback: false }), 1)
  const before = runScenario(shifted, gstDesign({ ignoresLateRepairs: false, repeatsTailFeedback: false }), 1)
  // Before: l2's failover repairs came a few ms after their holes were skipped, their late samples
  // took the hold to its 250 ms cap, and the holes l2's last units left (never repaired: too late)
  // then held the inner flow's retransmission for the whole cap.
  assert.ok(gst.longestStallMs <= 300, `stall ${gst.longestStallMs}`)
  assert.ok(gst.longestStallMs < before.longestStallMs - 100, `stall ${gst.longestStallMs}, before ${before.longestStallMs}`)
  assert.ok(gst.tcpRtos <= before.tcpRtos, `RTOs ${gst.tcpRtos}, before ${before.tcpRtos}`)
})

test('l2 blackholed while idle: stall <= 300 ms, back in use after restore', () => {
  const gst = run('cut-idle', 'gst')
  assert.ok(gst.longestStallMs <= 300, `stall ${gst.longestStallMs}`)
  assert.ok(gst.backInUseMs <= 1500, `back after ${gst.backInUseMs}`)
})

test('equal delays, the old start: gst aggregates and reorders little', () => {
  const gst = runScenario(oldStart.get('equal-delay')!, gstDesign(), 1)
  assert.ok(gst.share >= 0.9, `share ${gst.share}`)
  assert.equal(gst.outOfOrder, 0)
  // Spaced near ties, an exact departure model, no dodging a queue budget onto a path of equal
  // delay, one such path at a time in rate startup: far fewer units wait for reordering than with
  // one global buffer and static round robin (173 against 8807 when written; 2700 without
  // keepsEqualDelayOrder, 12266 before spacing).
  const mlvpn = runScenario(oldStart.get('equal-delay')!, mlvpnDesign(oldStart.get('equal-delay')!.links.map((l) => l.rateBitsPerSec)), 1)
  const heldForOrder = (r: ScenarioResult): number => r.held - r.heldBehindLoss
  assert.ok(heldForOrder(gst) < 0.05 * heldForOrder(mlvpn), `held for reordering: gst ${heldForOrder(gst)}, mlvpn-like ${heldForOrder(mlvpn)}`)
  const unordered = runScenario(oldStart.get('equal-delay')!, gstDesign({ keepsEqualDelayOrder: false }), 1)
  assert.ok(heldForOrder(gst) < 0.2 * heldForOrder(unordered), `held for reordering: ${heldForOrder(gst)}, without keepsEqualDelayOrder ${heldForOrder(unordered)}`)
  // The same-delay models (a packet pair instead of startup, control bytes counted, stale
  // corrections bounded, the pair's full rate in the departure model): 7 against 174 when written.
  const plain = runScenario(oldStart.get('equal-delay')!, gstDesign({ packetPair: false, countsControlBytes: false, boundsStaleCorrections: false }), 1)
  assert.ok(heldForOrder(gst) < 0.1 * heldForOrder(plain), `held for reordering: ${heldForOrder(gst)}, without the same-delay models ${heldForOrder(plain)}`)
  assert.ok(gst.share >= plain.share - 0.01, `share ${gst.share}, without them ${plain.share}`)
  // The pair sent on the feedback that makes it due, and its rate kept as the estimate's floor with
  // the probe round's gain under load: 3 held against 7, goodput 97.1 % against 95.9 % when
  // written (the pair alone at once: 3 held but 93.9 %, the estimate wearing down under it).
  const atTick = runScenario(oldStart.get('equal-delay')!, gstDesign({ pairsOnFirstSample: false, keepsPairRate: false }), 1)
  assert.ok(heldForOrder(gst) < heldForOrder(atTick), `held for reordering: ${heldForOrder(gst)}, pairs at the tick ${heldForOrder(atTick)}`)
  assert.ok(gst.share >= 0.95 && gst.share > atTick.share, `share ${gst.share}, pairs at the tick ${atTick.share}`)
})

test('the same-delay models leave paths of different delays alone: the aggregate run is the same without them', () => {
  const scenario = { ...scenarios.get('aggregate')!, durationMs: 3000, measureFromMs: 1000 }
  const a = runScenario(scenario, gstDesign(), 1)
  const b = runScenario(scenario, gstDesign({ packetPair: false, countsControlBytes: false, boundsStaleCorrections: false, pairsOnFirstSample: false, keepsPairRate: false }), 1)
  assert.deepEqual(a, b)
})

test('HoldTracer: each unit that arrived after a later one of its flow is explained by the latest earlier arrival', () => {
  const tracer = new HoldTracer()
  const event = (kind: UnitEvent['kind'], nowMs: number, path: number, flowSeq: number, value = NaN, isRepair = false): UnitEvent =>
    ({ kind, nowMs, path, bucket: 0, flowSeq, isRepair, value })
  // #0 on l1 arrives at 10 (planned 9); #1 and #2 on l2 arrive at 9.5 and 9.8: both held for #0.
  // #3 on l1 arrives in order; #4 was lost and its repair arrives after #5: #5 held for a repair.
  tracer.onSender(event('sent', 0, 0, 0, 9))
  tracer.onSender(event('sent', 0, 1, 1, 9.5))
  tracer.onSender(event('sent', 0, 1, 2, 9.8))
  tracer.onSender(event('sent', 1, 0, 3, 11))
  tracer.onSender(event('sent', 1, 0, 4, 11.5))
  tracer.onSender(event('sent', 1, 0, 5, 12))
  tracer.onSender(event('sent', 13, 1, 4, NaN, true))
  for (const [path, seq, at, repair] of [[1, 1, 9.5, false], [1, 2, 9.8, false], [0, 0, 10, false], [0, 3, 11, false], [0, 5, 12, false], [1, 4, 20, true]] as const) {
    tracer.onReceiver(event('arrived', at, path, seq, NaN, repair))
  }
  const lines = tracer.report()
  assert.equal(lines.filter((l) => l.includes(' held #')).length, 3, lines.join('\n'))
  assert.ok(lines.includes('held (from arrivals): 3'), lines.join('\n'))
  assert.ok(lines.some((l) => l.startsWith('by cause:') && l.includes('l1 late vs l2 2') && l.includes('repair 1')), lines.join('\n'))
  assert.ok(lines.some((l) => l.includes('held #1 l2') && l.includes('for #0 l1') && l.includes('err +1.000')), lines.join('\n'))
})

test('5 % loss on l2, the inner flow opening with a handshake: >= 28 Mbit/s; no overflow ceiling learnt in the first second caps a paced path, a lossy bond gets a deeper budget', () => {
  const scenario = issueScenarios(1, true).find((s) => s.name === 'loss5-l2')!
  const gst = runScenario(scenario, gstDesign(), 1)
  // 28.58 Mbit/s when written (28.42-28.59 with l1's delay moved a little).
  assert.ok(gst.goodputBitsPerSec >= 28e6, `goodput ${gst.goodputBitsPerSec}`)
  // Held to the ceiling, a paced l1 refused every burst past 0.95 of the 57 ms its startup's
  // overflow had set: 25.97 Mbit/s, 109 refused (24).
  const ceiled = runScenario(scenario, gstDesign({ pacedIgnoresOverflow: false }), 1)
  assert.ok(gst.goodputBitsPerSec > 1.05 * ceiled.goodputBitsPerSec, `goodput ${gst.goodputBitsPerSec}, held to the ceiling ${ceiled.goodputBitsPerSec}`)
  assert.ok(gst.refused < ceiled.refused, `refused ${gst.refused}, held to the ceiling ${ceiled.refused}`)
  // With the 40 ms budget while l2 is lossy: 28.19 (refused at cwnd ~280, cut to ~200 of the ~250 needed).
  const flat = runScenario(scenario, gstDesign({ lossyBudgetExtraMs: 0 }), 1)
  assert.ok(gst.goodputBitsPerSec > flat.goodputBitsPerSec, `goodput ${gst.goodputBitsPerSec}, flat budget ${flat.goodputBitsPerSec}`)
  assert.ok(gst.refused < flat.refused, `refused ${gst.refused}, flat budget ${flat.refused}`)
})

test('equal delays: with the inner flow\'s handshake every path has an RTT sample before the first window, and nothing waits for reordering', () => {
  const gst = run('equal-delay', 'gst')
  assert.equal(gst.held - gst.heldBehindLoss, 0)
  assert.equal(gst.outOfOrder, 0)
  assert.ok(gst.share >= 0.95, `share ${gst.share}`)
})
