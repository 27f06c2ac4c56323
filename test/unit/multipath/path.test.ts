// A Path and a PathReceiver joined by a fake wire, driven by a fake clock: probing, failure
// detection, re-admission, repair and reinjection.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { FakeClock } from '../../../src/clock.js'
import { Path, PathReceiver, createFeedback, DEFAULT_PROBE_INTERVAL_MS, type PathFeedback, type PathState } from '../../../src/multipath/index.js'

/** Read through a function so TypeScript does not narrow the state across calls that change it. */
const stateOf = (path: Path): PathState => path.state

const STEP_MS = 1

/** One path over a wire of fixed one-way delay; the caller's loop of index.ts, in miniature. */
class Harness {
  readonly clock = new FakeClock(0)
  readonly path: Path
  readonly receiver = new PathReceiver()
  isCut = false
  /** Only what the path sends is lost; its feedback still comes back. */
  isForwardCut = false
  /** Added to the one-way delay of what goes on the wire from now on (a path whose delay moves). */
  extraDelayMs = 0
  probesSent: number[] = []
  lost: number[] = []
  reinjected: number[] = []
  private inFlight: { atMs: number, deliver: () => void }[] = []

  constructor (readonly oneWayMs: number, options = {}) {
    this.path = new Path(0, options)
  }

  sendData (bytes: number, unit: number): number {
    const now = this.clock.now()
    const seq = this.path.onSend(bytes, now, unit)
    this.wire(() => this.receive(seq, now, bytes, false))
    return seq
  }

  /** A data send that waits `waitMs` in the caller's pace queue before it goes on the wire. */
  sendQueued (bytes: number, unit: number, waitMs: number): void {
    const sentMs = this.clock.now()
    const seq = this.path.onSend(bytes, sentMs, unit)
    this.path.markQueued(seq)
    this.inFlight.push({
      atMs: sentMs + waitMs,
      deliver: () => {
        this.path.markReleased(seq, this.clock.now())
        this.wire(() => this.receive(seq, sentMs, bytes, false))
      },
    })
  }

  run (untilMs: number): void {
    while (this.clock.now() < untilMs) {
      this.clock.advance(STEP_MS)
      const now = this.clock.now()
      const due = this.inFlight.filter((p) => p.atMs <= now)
      this.inFlight = this.inFlight.filter((p) => p.atMs > now)
      for (const p of due) p.deliver()
      this.path.update(now, this.reinjected)
      if (this.receiver.isFeedbackDue(now)) this.sendFeedback()
      if (this.path.isProbeDue(now)) {
        this.probesSent.push(now)
        const seq = this.path.onSend(64, now)
        this.wire(() => this.receive(seq, now, 64, true))
      }
    }
  }

  private receive (seq: number, txTimeMs: number, bytes: number, isProbe: boolean): void {
    this.receiver.onPacket({ pathSeq: seq, txTimeMs }, bytes, this.clock.now(), isProbe)
    if (this.receiver.isFeedbackDue(this.clock.now())) this.sendFeedback()
  }

  private sendFeedback (): void {
    const fb: PathFeedback = this.receiver.writeFeedback(this.clock.now(), createFeedback())
    this.wire(() => this.path.onFeedback(fb, this.clock.now(), this.lost), false)
  }

  private wire (deliver: () => void, isForward = true): void {
    if (this.isCut || (isForward && this.isForwardCut)) return
    this.inFlight.push({ atMs: this.clock.now() + this.oneWayMs + this.extraDelayMs, deliver })
  }
}

test('a new path is probing, comes up after two answers, then idles with a probe every interval', () => {
  const h = new Harness(10)
  assert.equal(h.path.state, 'probing')
  h.run(1000)
  assert.equal(h.path.state, 'up')
  assert.ok(Math.abs(h.path.rtt.srttMs - 20) < 1, `srtt ${h.path.rtt.srttMs}`)
  const gaps = h.probesSent.slice(1).map((t, i) => t - h.probesSent[i]!)
  assert.ok(gaps.every((g) => g <= DEFAULT_PROBE_INTERVAL_MS), `probe gaps ${gaps.join(',')}`)
})

for (const oneWayMs of [10, 30, 60]) {
  test(`a silent idle path (RTT ${2 * oneWayMs} ms) is down well under 300 ms, and re-admitted when it answers`, () => {
    const h = new Harness(oneWayMs)
    h.run(2000)
    assert.equal(h.path.state, 'up')
    h.isCut = true
    const cutMs = h.clock.now()
    while (stateOf(h.path) !== 'down' && h.clock.now() < cutMs + 2000) h.run(h.clock.now() + 1)
    const detectMs = h.clock.now() - cutMs
    assert.ok(detectMs < 300, `down after ${detectMs} ms`)
    h.isCut = false
    const restoreMs = h.clock.now()
    while (stateOf(h.path) !== 'up' && h.clock.now() < restoreMs + 2000) h.run(h.clock.now() + 1)
    const upMs = h.clock.now() - restoreMs
    assert.equal(stateOf(h.path), 'up')
    assert.ok(upMs < 1000, `up again after ${upMs} ms`)
  })
}

test('the probes sent into an outage are not random loss: a path back from down starts with its loss ratio as before', () => {
  const h = new Harness(30)
  h.run(2000)
  assert.equal(h.path.loss.lossRatio, 0)
  h.isCut = true
  h.run(h.clock.now() + 3000) // down, and probed all the while
  assert.equal(stateOf(h.path), 'down')
  const probesIntoTheCut = h.probesSent.filter((t) => t > 2000).length
  assert.ok(probesIntoTheCut >= 5, `probes sent while cut: ${probesIntoTheCut}`)
  h.isCut = false
  h.run(h.clock.now() + 1000)
  assert.equal(stateOf(h.path), 'up')
  assert.equal(h.path.loss.lossRatio, 0, `loss ratio after the outage: ${h.path.loss.lossRatio}`)
  assert.equal(h.path.loss.steadyRatio, 0)
})

test('a busy path that goes silent is down within its timeout and hands back its undelivered units', () => {
  const h = new Harness(30)
  for (let t = 0; t < 1000; t++) { h.sendData(1000, t); h.run(t + 1) }
  assert.equal(h.path.state, 'up')
  h.isCut = true
  const cutMs = h.clock.now()
  let unit = 1000
  while (stateOf(h.path) !== 'down' && h.clock.now() < cutMs + 1000) { h.sendData(1000, unit++); h.run(h.clock.now() + 1) }
  assert.ok(h.clock.now() - cutMs < 300, `down after ${h.clock.now() - cutMs} ms`)
  // Everything sent since the last answered packet comes back for reinjection, in order.
  assert.ok(h.reinjected.length >= unit - 1000, `${h.reinjected.length} units reinjected`)
  assert.deepEqual(h.reinjected.slice(-3), [unit - 3, unit - 2, unit - 1])
})

test('a lost packet is nacked by the receiver and its unit returned for repair', () => {
  const h = new Harness(10)
  h.run(500)
  h.sendData(1000, 1)
  h.isCut = true
  h.sendData(1000, 2) // lost
  h.isCut = false
  h.sendData(1000, 3)
  h.run(600)
  assert.deepEqual(h.lost, [2])
  assert.equal(h.path.counters.nackedPackets, 1)
  // Still in rate startup, but a lone loss at an empty queue is the path's own, not our probing's.
  assert.equal(h.path.rate.inStartup, true)
  assert.equal(h.path.loss.lostPackets, 1)
})

test('in rate startup, a run of losses is our own probing overfilling the buffer: repaired, not held against the path', () => {
  const h = new Harness(10)
  h.run(500)
  h.sendData(1000, 1)
  h.isCut = true
  for (const unit of [2, 3, 4]) h.sendData(1000, unit)
  h.isCut = false
  h.sendData(1000, 5)
  h.run(600)
  assert.deepEqual(h.lost, [2, 3, 4])
  assert.equal(h.path.rate.inStartup, true)
  assert.equal(h.path.loss.lostPackets, 0)
})

test('a configured rate caps the planning rate; auto plans with the estimate otherwise', () => {
  const capped = new Path(0, { txCapBitsPerSec: 1e6 })
  capped.addDeliveryRateSample(50e6, 0)
  assert.equal(capped.planningRateBitsPerSec(), 1e6)
  const free = new Path(1)
  free.addDeliveryRateSample(50e6, 0)
  assert.ok(free.planningRateBitsPerSec() >= 50e6)
})

test('pipe mode: plain samples and markHeard drive the same path', () => {
  const clock = new FakeClock(0)
  const path = new Path(0)
  path.addRttSample(40, clock.now())
  path.onSend(1000, clock.now(), 7)
  path.markHeard(clock.now())
  path.markHeard(clock.now())
  assert.equal(path.state, 'up')
  path.externalQueuedBytes = 100_000
  path.addDeliveryRateSample(8e6, clock.now())
  // 100 kB queued at 8 Mbit/s x startup gain 2 = 50 ms of queue
  assert.equal(path.queueDelayMs(0, clock.now()), 50)
  path.setAdminDown(true, clock.now())
  assert.equal(path.state, 'down')
})

test('a lost tail on a sparse path is handed back for repair once its reply is overdue', () => {
  const h = new Harness(30, { probeIntervalMs: 500 })
  h.run(1000)
  assert.equal(h.path.state, 'up')
  h.isCut = true
  h.sendData(1000, 42) // the tail: nothing follows it for a while, so no gap can be nacked
  h.sendData(1000, 43)
  h.isCut = false
  h.run(1400) // before the next probe pair (due at 1500) could reveal the gap
  assert.deepEqual(h.lost, [])
  assert.deepEqual(h.reinjected, [42, 43])
  assert.equal(h.path.counters.tailRepairs, 2)
  h.run(2000)
  assert.equal(stateOf(h.path), 'up', 'probes still answer: a lost tail is not a failure')
})

test('a send queued by a paced caller and overtaken by a later one is late, not lost: not repaired', () => {
  const cases: { name: string, queued: boolean, repaired: number[] }[] = [
    { name: 'unit 2 waited in the pace queue while unit 3 skipped it', queued: true, repaired: [] },
    { name: 'unit 2 was sent at once and never arrived', queued: false, repaired: [2] },
  ]
  for (const c of cases) {
    const h = new Harness(10)
    h.run(500)
    h.sendData(1000, 1)
    h.isCut = true
    const seq2 = h.sendData(1000, 2) // not on the wire (yet)
    if (c.queued) h.path.markQueued(seq2)
    h.isCut = false
    h.sendData(1000, 3) // overtakes it: the receiver sees a gap and nacks seq2
    h.run(600)
    assert.deepEqual(h.lost, c.repaired, c.name)
  }
})

test('a send released late by a paced caller has its reply deadline moved, not its unit repaired', () => {
  const cases: { name: string, releasedLateMs: number, tailRepairs: number }[] = [
    { name: 'released on time', releasedLateMs: 0, tailRepairs: 0 },
    { name: 'released 200 ms late (a late pace timer): not a tail loss', releasedLateMs: 200, tailRepairs: 0 },
  ]
  for (const c of cases) {
    const h = new Harness(10)
    h.run(1000)
    const now = h.clock.now()
    const seq = h.path.onSend(1000, now, 7) // held back by the caller, reaches the wire later
    h.path.markQueued(seq)
    h.run(now + c.releasedLateMs)
    h.path.markReleased(seq, h.clock.now())
    h.run(now + c.releasedLateMs + 15) // in flight: 10 ms out, no reply yet
    assert.equal(h.path.counters.tailRepairs, c.tailRepairs, c.name)
    assert.ok(!h.reinjected.includes(7), c.name)
  }
})

test('time a send waited in the caller\'s pace queue is not path delay: the baselines leave it out', () => {
  const h = new Harness(10)
  h.run(60) // two probe answers: up, baselines from 64-byte probes
  // Busy (no probes) for more than a filter window and a half: only the queued sends are samples.
  for (let i = 0; h.clock.now() < 16_000; i++) { h.sendQueued(100, i, 30); h.run(h.clock.now() + 10) }
  assert.ok(h.path.rtt.srttMs >= 19, `srtt ${h.path.rtt.srttMs}`)
  assert.ok(Math.abs(h.path.rtt.minRttMs - 20) < 1, `min RTT ${h.path.rtt.minRttMs} (50 with the pace wait)`)
  assert.ok(Math.abs(h.path.delay.minRelMs - 10) < 1, `one-way baseline ${h.path.delay.minRelMs} (40 with the pace wait)`)
})

test('a paced path with sends waiting in its pace queue is not probed (a probe would overtake them, and they would count as lost)', () => {
  for (const isPaced of [true, false]) {
    const path = new Path(0, { isPaced })
    path.rate.inStartup = false
    path.update(0)
    for (let i = 0; i < 50; i++) path.markQueued(path.onSend(1500, 0, i)) // 75 kB: hundreds of ms at the initial rate
    assert.equal(path.isProbeDue(150), !isPaced, isPaced ? 'paced: its queue will prove it' : 'unpaced: nothing waits, probe')
  }
})

test('rate startup ends once the bottleneck has queued for a whole round, not on one delayed sample', () => {
  const cases: { name: string, queuedMs: number[], inStartup: boolean }[] = [
    { name: 'one 30 ms spike among empty-queue samples', queuedMs: [0, 30, 0, 0, 0, 0, 0, 0, 0, 0], inStartup: true },
    { name: '15 ms of queue in every sample for longer than a round', queuedMs: [15, 15, 15, 15, 15, 15, 15, 15, 15, 15], inStartup: false },
  ]
  for (const c of cases) {
    const path = new Path(0)
    const receiver = new PathReceiver()
    const fb = createFeedback()
    let t = 0
    const exchange = (queuedMs: number): void => {
      // A busy path: each sample's send found a backlog in the model.
      path.onSend(100_000, t, 1)
      const seq = path.onSend(1500, t, 2)
      receiver.onPacket({ pathSeq: seq - 1, txTimeMs: t }, 100_000, t + 10 + queuedMs)
      receiver.onPacket({ pathSeq: seq, txTimeMs: t }, 1500, t + 10 + queuedMs)
      path.onFeedback(receiver.writeFeedback(t + 10 + queuedMs, fb), t + 20 + queuedMs)
      t += 10
    }
    exchange(0) // the baseline
    for (const q of c.queuedMs) exchange(q)
    assert.equal(path.rate.inStartup, c.inStartup, c.name)
  }
})

test('an unpaced path whose model kept a queue that the bottleneck had drained, for a whole round, searches its rate again', () => {
  const cases: { name: string, estimateBps: number, inStartup: boolean }[] = [
    // At 0.1 Mbit/s a 1500-byte send is 120 ms of modelled queue; the link delivers it at once.
    { name: 'an estimate at a probe\'s rate (0.1 Mbit/s)', estimateBps: 0.1e6, inStartup: true },
    // At 10 Mbit/s the model's queue is a fraction of a ms ahead of each send: it agrees with the link.
    { name: 'an estimate the link bears out (10 Mbit/s)', estimateBps: 10e6, inStartup: false },
  ]
  for (const c of cases) {
    const path = new Path(0)
    const receiver = new PathReceiver()
    const fb = createFeedback()
    path.addRttSample(20, 0)
    path.addDeliveryRateSample(c.estimateBps, 0)
    path.rate.endStartup(0)
    let t = 0
    // Two sends back to back every 20 ms (the second finds a backlog: busy), each at the bottleneck 10 ms later with no queue.
    for (let i = 0; i < 8; i++) {
      const a = path.onSend(600, t, 2 * i)
      const b = path.onSend(600, t, 2 * i + 1)
      receiver.onPacket({ pathSeq: a, txTimeMs: t }, 600, t + 10)
      receiver.onPacket({ pathSeq: b, txTimeMs: t }, 600, t + 10)
      path.onFeedback(receiver.writeFeedback(t + 10, fb), t + 20)
      path.update(t + 20)
      t += 20
    }
    assert.equal(path.rate.inStartup, c.inStartup, c.name)
  }
})

test('an idle path keeps its rate through late arrivals: a sample of a probe or two never lowers it', () => {
  // Before: a probe read 60 ms late (the receiver off-CPU) moved the model's departure schedule
  // by half of that "queue", the next probe found the model busy, and its one-packet sample
  // (64 bytes over ~50 ms, 0.01 Mbit/s) became the estimate: in startup at once, out of it after
  // two such spells a window apart. From there every probe looked busy: a starved path.
  for (const c of [{ name: 'in rate startup (its 2 Mbit/s guess)', pairBps: 0 }, { name: 'out of startup (18 Mbit/s measured)', pairBps: 18e6 }]) {
    const path = new Path(0)
    const receiver = new PathReceiver()
    if (c.pairBps > 0) assert.ok(path.rate.setFromPacketPair(c.pairBps, 0))
    const before = path.rate.estimateBitsPerSec
    const feedbacks: { atMs: number, fb: PathFeedback }[] = []
    for (let t = 0; t < 6000; t += 100) {
      const seq = path.onSend(64, t)
      // Every 1.5 s the receiver reads a probe 60 ms late; its reply leaves when it is read.
      const rxMs = t + 10 + (t % 1500 === 700 ? 60 : 0)
      receiver.onPacket({ pathSeq: seq, txTimeMs: t }, 64, rxMs, true)
      feedbacks.push({ atMs: rxMs + 10, fb: receiver.writeFeedback(rxMs, createFeedback()) })
      for (const f of feedbacks.splice(0).sort((a, b) => a.atMs - b.atMs)) {
        if (f.atMs < t + 100) path.onFeedback(f.fb, f.atMs)
        else feedbacks.push(f)
      }
    }
    assert.equal(path.rate.estimateBitsPerSec, before, c.name)
  }
})

test('probesUnderLoad: the upward probe gain applies while the model holds a queue; without it, only on an empty one', () => {
  for (const probesUnderLoad of [false, true]) {
    const path = new Path(0, { probesUnderLoad })
    path.addDeliveryRateSample(10e6, 0)
    path.rate.endStartup(0)
    path.rate.gain = 1.25
    path.onSend(100_000, 0) // 80 ms of queue in the model
    assert.equal(path.planningRateBitsPerSec(), probesUnderLoad ? 12.5e6 : 10e6, `probesUnderLoad ${probesUnderLoad}`)
  }
})

test('packet pair: due only with measuresPacketPair, after a probe answered, while the rate is a guess', () => {
  const off = new Path(0)
  off.addRttSample(20, 0)
  assert.equal(off.isPacketPairDue(0), false, 'off by default')
  const path = new Path(0, { measuresPacketPair: true })
  assert.equal(path.isPacketPairDue(0), false, 'no probe answered yet: its baseline would carry the pair\'s serialisation')
  path.addRttSample(20, 0)
  assert.equal(path.isPacketPairDue(0), true)
  path.onPacketPairSent(path.onSend(1500, 0), 0)
  path.onSend(1500, 0)
  assert.equal(path.isPacketPairDue(50), false, 'at most one pair per probe interval')
  assert.equal(path.isPacketPairDue(DEFAULT_PROBE_INTERVAL_MS), true, 'a lost pair is sent again')
  const measured = new Path(0, { measuresPacketPair: true })
  measured.addRttSample(20, 0)
  measured.addDeliveryRateSample(5e6, 0)
  assert.equal(measured.isPacketPairDue(0), false, 'a path that carried data has a delivery rate')
})

test('packet pair: the gap between the two arrivals sets the rate and ends startup; anything between them spoils it', () => {
  const cases: { name: string, gapMs: number, extraBytes: number, estimateBps: number | undefined }[] = [
    // 1500 bytes one serialisation apart at 10 Mbit/s = 1.2 ms; planned a little under (PAIR_RATE_SHARE).
    { name: '1.2 ms apart: 10 Mbit/s', gapMs: 1.2, extraBytes: 0, estimateBps: 10e6 },
    { name: '0.6 ms apart: 20 Mbit/s', gapMs: 0.6, extraBytes: 0, estimateBps: 20e6 },
    { name: 'another packet received between them', gapMs: 1.2, extraBytes: 64, estimateBps: undefined },
  ]
  for (const c of cases) {
    const path = new Path(0, { measuresPacketPair: true })
    const receiver = new PathReceiver()
    const fb = createFeedback()
    const probe = path.onSend(64, 0)
    receiver.onPacket({ pathSeq: probe, txTimeMs: 0 }, 64, 10, true)
    path.onFeedback(receiver.writeFeedback(10, fb), 20)
    assert.ok(path.isPacketPairDue(20), c.name)
    const first = path.onSend(1500, 20)
    const second = path.onSend(1500, 20)
    path.onPacketPairSent(first, 20)
    receiver.onPacket({ pathSeq: first, txTimeMs: 20 }, 1500, 30.6, true)
    path.onFeedback(receiver.writeFeedback(30.6, fb), 40.6)
    if (c.extraBytes > 0) receiver.onPacket({ pathSeq: -5, txTimeMs: 20 }, c.extraBytes, 30.7) // a late packet between them
    receiver.onPacket({ pathSeq: second, txTimeMs: 20 }, 1500, 30.6 + c.gapMs, true)
    path.onFeedback(receiver.writeFeedback(30.6 + c.gapMs, fb), 40.6 + c.gapMs)
    if (c.estimateBps === undefined) {
      assert.equal(path.pairsMeasured, 0, c.name)
      assert.equal(path.rate.inStartup, true, c.name)
    } else {
      assert.equal(path.pairsMeasured, 1, c.name)
      assert.equal(path.rate.inStartup, false, c.name)
      assert.ok(path.rate.estimateBitsPerSec < c.estimateBps && path.rate.estimateBitsPerSec > 0.9 * c.estimateBps,
        `${c.name}: ${path.rate.estimateBitsPerSec}`)
      assert.equal(path.isPacketPairDue(200), false, `${c.name}: measured once`)
    }
  }
})

/** A paced path whose rate a packet pair measured at `pairBps` (its first probe answered at 20 ms, the pair at 40.6 ms). */
function pairMeasured (pairBps: number, keepsPairRate = false): { path: Path, receiver: PathReceiver, fb: PathFeedback } {
  const path = new Path(0, { measuresPacketPair: true, isPaced: true })
  path.keepsPairRate = keepsPairRate
  const receiver = new PathReceiver()
  const fb = createFeedback()
  const probe = path.onSend(64, 0)
  receiver.onPacket({ pathSeq: probe, txTimeMs: 0 }, 64, 10, true)
  path.onFeedback(receiver.writeFeedback(10, fb), 20)
  const first = path.onSend(1500, 20)
  const second = path.onSend(1500, 20)
  path.onPacketPairSent(first, 20)
  const gapMs = (1500 * 8000) / pairBps
  receiver.onPacket({ pathSeq: first, txTimeMs: 20 }, 1500, 30, true)
  path.onFeedback(receiver.writeFeedback(30, fb), 40)
  receiver.onPacket({ pathSeq: second, txTimeMs: 20 }, 1500, 30 + gapMs, true)
  path.onFeedback(receiver.writeFeedback(30 + gapMs, fb), 40 + gapMs)
  assert.equal(path.pairsMeasured, 1)
  return { path, receiver, fb }
}

test('packet pair: the plan keeps a little under the measured rate, the departure model drains at all of it until the path goes down', () => {
  const { path } = pairMeasured(20e6)
  assert.ok(path.planningRateBitsPerSec() < 20e6 && path.planningRateBitsPerSec() > 19e6, `plan ${path.planningRateBitsPerSec()}`)
  // An idle paced path: a 1500-byte unit leaves after its own serialisation at the link's rate.
  assert.ok(Math.abs(path.queueDelayMs(1500, 100) - 0.6) < 1e-9, `departure at the pair's 20 Mbit/s: ${path.queueDelayMs(1500, 100)} ms`)
  // Silent for long enough to go down: a path that answers again may be another link.
  path.onSend(1500, 100)
  path.onSend(1500, 100)
  for (let t = 101; t <= 2000 && path.state !== 'down'; t++) path.update(t)
  assert.equal(path.state, 'down')
  assert.ok(path.queueDelayMs(1500, 3000) > 0.61, `after down the estimate drives it again: ${path.queueDelayMs(1500, 3000)} ms`)
})

test('packet pair with keepsPairRate: the probe round\'s gain applies with a backlog in the pacer, the pair\'s rate is the floor until the path goes down', () => {
  const plain = pairMeasured(20e6).path
  const keeping = pairMeasured(20e6, true).path
  for (const path of [plain, keeping]) {
    path.rate.gain = 1.25 // the probe round of the gain cycle
    path.onSend(30_000, 50) // a backlog in the pace model
  }
  const estimate = keeping.rate.estimateBitsPerSec
  assert.equal(plain.planningRateBitsPerSec(), plain.rate.estimateBitsPerSec, 'without it a busy path plans at its estimate: paced there, no sample can exceed it')
  assert.ok(Math.abs(keeping.planningRateBitsPerSec() - 1.25 * estimate) < 1e-6, `with it the probe round plans 1.25 x: ${keeping.planningRateBitsPerSec()}`)
  keeping.addDeliveryRateSample(0.9 * estimate, 60)
  assert.equal(keeping.rate.estimateBitsPerSec, estimate, 'a lower delivery sample leaves the pair\'s rate')
  keeping.onSend(1500, 100)
  keeping.onSend(1500, 100)
  for (let t = 101; t <= 5000 && keeping.state !== 'down'; t++) keeping.update(t)
  assert.equal(keeping.state, 'down', 'silent long enough')
  assert.equal(keeping.rate.pairFloorBitsPerSec, 0, 'down forgets it: a path that answers again may be another link')
})

test('onUnsequencedSend: a control packet counts in a paced path\'s models behind a queue; in rate startup not at all', () => {
  const startup = new Path(0, { isPaced: true })
  startup.onSend(10_000, 0)
  const before = startup.queueDelayMs(0, 0)
  startup.onUnsequencedSend(64, 0)
  assert.equal(startup.queueDelayMs(0, 0), before, 'in startup the model is re-anchored to every sample instead')
  const paced = new Path(0, { isPaced: true })
  paced.addDeliveryRateSample(8e6, 0)
  paced.rate.endStartup(0)
  paced.rate.gain = 1
  paced.update(0)
  assert.ok(paced.isPacedNow())
  paced.onUnsequencedSend(64, 0)
  assert.equal(paced.queueDelayMs(0, 0), 0, 'idle: gone before anything follows')
  paced.onSend(5000, 0)
  const queued = paced.queueDelayMs(0, 1)
  paced.onUnsequencedSend(64, 1)
  assert.ok(Math.abs(paced.queueDelayMs(0, 1) - queued - 0.064) < 1e-9, `behind a queue: ${paced.queueDelayMs(0, 1) - queued} ms more`)
})

test('boundsStaleCorrections: the shifts since a send cancel at most the queue predicted for it', () => {
  // A unit sent on an empty model (0 queue predicted, 0 measured); before its sample returns, the
  // model was shifted 5 ms earlier for the units after it. Unbounded, its sample undoes half of
  // that shift (+2.5 ms); bounded, its prediction counts as 0 and the sample moves nothing.
  for (const bounds of [false, true]) {
    const path = new Path(0, { isPaced: true, boundsStaleCorrections: bounds })
    const receiver = new PathReceiver()
    const fb = createFeedback()
    const probe = path.onSend(64, 0)
    receiver.onPacket({ pathSeq: probe, txTimeMs: 0 }, 64, 10, true)
    path.onFeedback(receiver.writeFeedback(10, fb), 20)
    path.addDeliveryRateSample(8e6, 20)
    path.rate.endStartup(20)
    path.rate.gain = 1
    path.update(20)
    const unit = path.onSend(1000, 100) // idle: leaves at once
    path.onSend(20_000, 100) // 20 ms of queue in the model behind it
    path.pacer.correct(0, 10, 100) // a later send measured 10 ms less than predicted: -5 ms
    const shifted = path.pacer.correctedMs
    receiver.onPacket({ pathSeq: unit, txTimeMs: 100 }, 1000, 110 + 1, false)
    path.onFeedback(receiver.writeFeedback(111, fb), 121)
    const moved = path.pacer.correctedMs - shifted
    if (bounds) assert.ok(Math.abs(moved) < 1e-9, `bounded: moved ${moved} ms`)
    else assert.ok(moved > 2, `unbounded: moved ${moved} ms`)
  }
})

/** Ms from a cut of `h`'s wire until its path is down (sending `sendEveryMs` all the while, as before the cut). */
function msUntilDown (h: Harness, send: (unit: number) => void, sendEveryMs: number): number {
  h.isCut = true
  const cutMs = h.clock.now()
  let unit = 100_000
  while (stateOf(h.path) !== 'down' && h.clock.now() < cutMs + 1000) { send(unit++); h.run(h.clock.now() + sendEveryMs) }
  return h.clock.now() - cutMs
}

test('timeoutFromLateness: a paced path whose RTT swings with its own pace queue is down at the floor, not at the ceiling', () => {
  // Sends wait 0 to 40 ms in the caller's pace queue (a sawtooth over 100 ms): the RTT swings
  // 60 <-> 100 ms, which the reply deadline knows send by send (the late release moves it), so no
  // reply is late.
  const downMs: number[] = []
  for (const fromLateness of [false, true]) {
    const h = new Harness(30, { timeoutFromLateness: fromLateness })
    let unit = 0
    const send = (u: number): void => h.sendQueued(1000, u, 0.4 * (h.clock.now() % 100))
    while (h.clock.now() < 2000) { send(unit++); h.run(h.clock.now() + 2) }
    assert.equal(stateOf(h.path), 'up')
    assert.ok(h.path.rtt.rttVarMs > 5, `rttvar ${h.path.rtt.rttVarMs}`)
    assert.ok(h.path.replyLatenessMs < 1, `lateness ${h.path.replyLatenessMs}`)
    downMs.push(msUntilDown(h, send, 2))
  }
  const [byRttVar, byLateness] = downMs as [number, number]
  // By rttvar (9 ms): 3 x (4 x rttvar + 10) = 138 ms overdue; by lateness: the 60 ms floor. Both
  // count from the last reply (the feedback in flight at the cut still arrives) plus the ack delay.
  assert.ok(byLateness < 115, `down after ${byLateness} ms`)
  assert.ok(byRttVar - byLateness >= 30, `down after ${byRttVar} ms by rttvar, ${byLateness} by lateness`)
})

test('timeoutFromLateness: replies late against their prediction (a delay that moves) widen the timeouts, so a jittery path is not taken down', () => {
  const h = new Harness(30, { timeoutFromLateness: true })
  let unit = 0
  while (h.clock.now() < 2000) {
    h.extraDelayMs = Math.floor(h.clock.now() / 20) % 2 === 0 ? 0 : 15 // the wire's delay moves by 15 ms every 20 ms
    h.sendData(1000, unit++)
    h.run(h.clock.now() + 2)
    if (h.clock.now() > 500) assert.equal(stateOf(h.path), 'up', `at ${h.clock.now()} ms`)
  }
  assert.ok(h.path.replyLatenessMs > 2, `lateness ${h.path.replyLatenessMs}`)
})

test('a lossy sparse path whose burst lost its last two packets, then sent nothing, is not taken down; a clean one is', () => {
  for (const lossRatio of [0, 0.05]) {
    const h = new Harness(60)
    h.run(1000)
    assert.equal(stateOf(h.path), 'up')
    if (lossRatio > 0) h.path.loss.setRatio(lossRatio)
    let unit = 1
    for (let i = 0; i < 20; i++) { h.sendData(1000, unit++); h.run(h.clock.now() + 1) }
    h.isCut = true
    h.sendData(1000, unit++)
    h.sendData(1000, unit++)
    h.isCut = false
    let wentDown = false
    const untilMs = h.clock.now() + 1000
    while (h.clock.now() < untilMs) { h.run(h.clock.now() + 1); if (stateOf(h.path) === 'down') wentDown = true }
    // Clean: two sends in a row lost is silence. At 5 %, 1 in 400 bursts ends that way, and the
    // probe sent 100 ms later answers a round trip after: the path was alive all along.
    assert.equal(wentDown, lossRatio === 0, `loss ratio ${lossRatio}: ${wentDown ? 'went down' : 'stayed up'}`)
    assert.equal(stateOf(h.path), 'up')
  }
})

test('a feedback that reports nothing new while sends are outstanding (a repeat) is no answer: the path\'s silence clock runs on', () => {
  const h = new Harness(30)
  for (let t = 0; t < 1000; t++) { h.sendData(1000, t); h.run(t + 1) }
  h.isForwardCut = true // what the path sends is lost; its feedback still comes back
  for (let i = 0; i < 5; i++) { h.sendData(1000, 2000 + i); h.run(h.clock.now() + 1) }
  h.run(h.clock.now() + 80) // the answers to what arrived are in; the five sends are overdue
  const nowMs = h.clock.now()
  const before = h.path.overdueMs(nowMs)
  assert.ok(before > 0 && stateOf(h.path) !== 'down', `overdue ${before} ms, ${stateOf(h.path)}`)
  h.path.onFeedback(h.receiver.writeFeedback(nowMs, createFeedback()), nowMs)
  assert.equal(h.path.overdueMs(nowMs), before, 'the repeat did not restart the clock')
})
