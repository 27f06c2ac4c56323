// Silence reports: a receiver that hears nothing more on a busy path says so over another path,
// and the sender takes the path down at once when sends that should have arrived did not.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import {
  Path, PathReceiver, createFeedback, SILENCE_REPORT_FLOOR_MS, SILENCE_REPORTS, UNANSWERED_FOR_SILENCE, type PathFeedback, type PathState,
} from '../../../src/multipath/index.js'
import { silenceEvidence } from '../../../src/multipath/path.js'

const stateOf = (path: Path): PathState => path.state

/**
 * One busy path (a data unit every `sendEveryMs`, one way `oneWayMs`, feedback back the same way)
 * and, with `reports`, its silence reports carried to the sender over another path of `otherWayMs`.
 */
class Lab {
  nowMs = 0
  readonly path = new Path(0)
  readonly receiver = new PathReceiver()
  isCut = false
  isSending = true
  reinjected: number[] = []
  downAtMs = -1
  private nextUnit = 0
  private inFlight: { atMs: number, deliver: () => void }[] = []

  /** `dropEvery` > 0: every such data unit is lost on the wire (random loss, in a fixed pattern). */
  constructor (readonly oneWayMs = 60, readonly reports = true, readonly otherWayMs = 10, readonly sendEveryMs = 1, readonly dropEvery = 0) {}

  run (untilMs: number): void {
    while (this.nowMs < untilMs) {
      this.nowMs++
      const now = this.nowMs
      const due = this.inFlight.filter((p) => p.atMs <= now)
      this.inFlight = this.inFlight.filter((p) => p.atMs > now)
      for (const p of due) p.deliver()
      this.path.update(now, this.reinjected)
      if (this.isSending && now % this.sendEveryMs === 0 && this.path.state !== 'down') this.send(1200, this.nextUnit++)
      if (this.path.isProbeDue(now)) this.send(64, -1)
      if (this.receiver.isFeedbackDue(now)) this.feedback(false)
      if (this.reports && this.receiver.silenceReportDue(now, now)) this.feedback(true)
      if (this.downAtMs < 0 && this.path.state === 'down') this.downAtMs = now
    }
  }

  /** Sends `count` data units now, lost on the wire (e.g. the tail of a burst). */
  sendLost (count: number): void {
    this.isCut = true
    for (let i = 0; i < count; i++) this.send(1200, this.nextUnit++)
    this.isCut = false
  }

  /** Delivers a report to the sender as if over the other path (a copy: no echo). */
  deliverReport (fb: PathFeedback, atMs: number): void {
    this.inFlight.push({ atMs, deliver: () => this.path.onFeedback(fb, this.nowMs, this.reinjected, undefined, true) })
  }

  private send (bytes: number, unit: number): void {
    const sentMs = this.nowMs
    const seq = this.path.onSend(bytes, sentMs, unit)
    if (this.isCut || (this.dropEvery > 0 && unit >= 0 && unit % this.dropEvery === this.dropEvery - 1)) return
    this.inFlight.push({
      atMs: sentMs + this.oneWayMs,
      deliver: () => {
        this.receiver.onPacket({ pathSeq: seq, txTimeMs: sentMs }, bytes, this.nowMs, unit < 0)
        if (this.receiver.isFeedbackDue(this.nowMs)) this.feedback(false)
      },
    })
  }

  private feedback (isReport: boolean): void {
    if (isReport) {
      const fb = this.receiver.writeSilenceReport(this.nowMs, createFeedback())
      fb.echoSeq = fb.highestSeq - 0x4000_0000 // a copy carries no echo (copyOfFeedback)
      this.deliverReport(fb, this.nowMs + this.otherWayMs)
      return
    }
    const fb = this.receiver.writeFeedback(this.nowMs, createFeedback())
    if (this.isCut) return
    this.inFlight.push({ atMs: this.nowMs + this.oneWayMs, deliver: () => this.path.onFeedback(fb, this.nowMs, this.reinjected) })
  }
}

test('receiver: a busy path is reported silent after the floor, then as long again, at most SILENCE_REPORTS times', () => {
  const r = new PathReceiver()
  for (let t = 0; t <= 100; t++) r.onPacket({ pathSeq: t, txTimeMs: t }, 1200, 1000 + t)
  const lastMs = 1100
  assert.equal(r.silenceReportDue(lastMs + SILENCE_REPORT_FLOOR_MS - 1, lastMs + SILENCE_REPORT_FLOOR_MS - 1), false, 'under the floor')
  assert.equal(r.silenceReportDue(lastMs + SILENCE_REPORT_FLOOR_MS, lastMs + SILENCE_REPORT_FLOOR_MS), true)
  const fb = r.writeSilenceReport(lastMs + 23, createFeedback())
  assert.deepEqual({ highest: fb.highestSeq, silence: fb.ackDelayMs, nacks: fb.nackCount }, { highest: 100, silence: 23, nacks: 0 })
  assert.equal(r.silenceReportDue(lastMs + 2 * SILENCE_REPORT_FLOOR_MS - 1, lastMs + 2 * SILENCE_REPORT_FLOOR_MS - 1), false, 'the next one waits as long again')
  assert.equal(r.silenceReportDue(lastMs + 2 * SILENCE_REPORT_FLOOR_MS, lastMs + 2 * SILENCE_REPORT_FLOOR_MS), true)
  for (let i = 1; i < SILENCE_REPORTS; i++) r.writeSilenceReport(lastMs + 60, createFeedback())
  assert.equal(r.silenceReportDue(lastMs + 10_000, lastMs + 10_000), false, `no more than ${SILENCE_REPORTS} per silence`)
  r.onPacket({ pathSeq: 101, txTimeMs: 101 }, 1200, 20_000)
  assert.equal(r.silenceReportDue(20_000 + SILENCE_REPORT_FLOOR_MS, 20_000 + SILENCE_REPORT_FLOOR_MS), false, 'one arrival after a long silence is no busy path')
  for (let i = 1; i <= 60; i++) r.onPacket({ pathSeq: 101 + i, txTimeMs: 101 + i }, 1200, 20_000 + i)
  assert.equal(r.silenceReportDue(20_060 + SILENCE_REPORT_FLOOR_MS, 20_060 + SILENCE_REPORT_FLOOR_MS), true, 'busy again: a new silence is reported')
})

test('receiver: no report while no other path delivers either (our own stall: every path would look silent)', () => {
  const r = new PathReceiver()
  for (let t = 0; t <= 100; t++) r.onPacket({ pathSeq: t, txTimeMs: t }, 1200, 1000 + t)
  assert.equal(r.silenceReportDue(1200, 1100), false, 'the other paths are as quiet')
  assert.equal(r.silenceReportDue(1200, 1109), false, 'another path delivered, but only in the first half of the silence')
  assert.equal(r.silenceReportDue(1200, 1160), true)
})

test('receiver: a pause the path came back from by itself (a delay jump) is not reported again; a sender\'s pause changes nothing', () => {
  const r = new PathReceiver()
  let seq = 0
  const burst = (fromTxMs: number, fromRxMs: number): void => { for (let i = 0; i < 50; i++) r.onPacket({ pathSeq: seq++, txTimeMs: fromTxMs + i }, 1200, fromRxMs + i) }
  burst(0, 1000)
  burst(80, 1080) // the sender sent nothing for 30 ms: arrivals 30 ms apart, sends as far apart
  assert.equal(r.silenceReportDue(1129 + 20, 1129 + 20), true, 'a sender\'s pause taught nothing: 20 ms of silence is reported')
  burst(130, 1130 + 40) // sent 1 ms after the last, arrived 41 ms after it: a 40 ms pause
  const lastMs = 1170 + 49
  assert.equal(r.silenceReportDue(lastMs + 59, lastMs + 59), false, 'under 1.5 x the 40 ms pause')
  assert.equal(r.silenceReportDue(lastMs + 60, lastMs + 60), true)
  burst(1_000_000, 1_000_000 + 1170) // 25 s on: the pause is forgotten
  burst(1_000_050, 1_000_050 + 1170)
  assert.equal(r.silenceReportDue(1_001_269 + 20, 1_001_269 + 20), true)
})

test('receiver: a path idle but for probes (100 ms apart) is never reported, nor one that never received', () => {
  const r = new PathReceiver()
  assert.equal(r.silenceReportDue(5000, 5000), false)
  for (let i = 0; i < 40; i++) r.onPacket({ pathSeq: i, txTimeMs: i * 100 }, 64, i * 100, true)
  for (let t = 3900; t < 6000; t += 5) assert.equal(r.silenceReportDue(t, t), false, `at ${t} ms`)
})

test('a busy path cut is taken down by the silence report, before its own timeout, and hands back what it had not delivered', () => {
  const reported = new Lab()
  const timedOut = new Lab(60, false)
  for (const lab of [reported, timedOut]) {
    lab.run(2000)
    assert.equal(stateOf(lab.path), 'up')
    lab.isCut = true
    lab.run(3000)
    assert.equal(stateOf(lab.path), 'down')
  }
  // The last packet before the cut arrives at 2060; silent from there, the report goes at 2080 and lands at 2090.
  assert.ok(reported.downAtMs > 2060 && reported.downAtMs <= 2095, `down at ${reported.downAtMs} ms`)
  assert.equal(reported.path.counters.silenceDowns, 1)
  assert.ok(timedOut.downAtMs > reported.downAtMs + 25, `the path's own timeout: down at ${timedOut.downAtMs} ms, by the report at ${reported.downAtMs} ms`)
  assert.equal(timedOut.path.counters.silenceDowns, 0)
  // Every unit sent from the cut (unit 2000, at 2001 ms) to the down went back for repair. Of those
  // before it, which arrived though their own feedback was lost in the cut, only the few that the
  // tail-loss timer handed back before the report came: the report said the rest had arrived.
  const sinceCut = reported.reinjected.filter((u) => u >= 2000)
  assert.ok(sinceCut.length >= reported.downAtMs - 2001 - 1, `${sinceCut.length} units handed back`)
  const beforeCut = reported.reinjected.filter((u) => u < 2000).length
  const beforeCutTimedOut = timedOut.reinjected.filter((u) => u < 2000).length
  assert.ok(beforeCut < 20 && beforeCutTimedOut >= 50, `units that had arrived sent again: ${beforeCut} with the report, ${beforeCutTimedOut} by the path's own timeout`)
})

test('a silence while the sender sends nothing on the path changes nothing', () => {
  const lab = new Lab()
  lab.run(2000)
  lab.isSending = false // only probes (100 ms apart) from now on
  lab.run(4000)
  assert.equal(stateOf(lab.path), 'up')
  assert.equal(lab.path.counters.silenceDowns, 0)
  assert.deepEqual(lab.reinjected, [])
})

test('a report the path has answered past, or one shorter than the floor, changes nothing', () => {
  const lab = new Lab()
  lab.run(2000)
  const stale = createFeedback()
  stale.highestSeq = lab.receiver.highestSeq - 100 // the path's own feedback has acked well past it
  stale.echoSeq = stale.highestSeq - 0x4000_0000
  stale.ackDelayMs = 80
  lab.deliverReport(stale, 2001)
  const short = createFeedback()
  short.highestSeq = lab.receiver.highestSeq
  short.echoSeq = short.highestSeq - 0x4000_0000
  short.ackDelayMs = SILENCE_REPORT_FLOOR_MS - 1 // a nack's copy: sent as its gap shows
  lab.deliverReport(short, 2001)
  lab.run(2200)
  assert.equal(stateOf(lab.path), 'up')
  assert.equal(lab.path.counters.silenceDowns, 0)
})

test('evidence needed: 2 missing sends on a clean path, more as random loss could explain them', () => {
  assert.deepEqual([0, 0.001, 0.01, 0.02, 0.05, 0.3, 1].map(silenceEvidence), [UNANSWERED_FOR_SILENCE, 2, 2, 3, 4, 8, 8])
})

test('on a path losing 5 %, a burst whose last two packets were lost, then a pause, is no silence; a cut still is', () => {
  const lab = new Lab(60, true, 10, 1, 20)
  lab.run(500)
  lab.path.rate.inStartup = false // losses in rate startup count as our own probing's, not the path's
  lab.run(3005) // the last unit sent (3004) was not one of the pattern's losses: only the two below are
  assert.equal(stateOf(lab.path), 'up')
  assert.ok(lab.path.loss.lossRatio > 0.02, `loss ratio ${lab.path.loss.lossRatio}`)
  lab.isSending = false
  lab.sendLost(2)
  lab.run(3500)
  assert.equal(stateOf(lab.path), 'up', 'two lost at 5 % is chance')
  assert.equal(lab.path.counters.silenceDowns, 0)
  lab.isSending = true
  lab.run(5000)
  lab.isCut = true
  lab.run(5400)
  assert.equal(stateOf(lab.path), 'down')
  assert.equal(lab.path.counters.silenceDowns, 1, 'the cut: down by the report')
})
