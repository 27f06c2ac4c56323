// The simulator's inner TCP (bench/sim/tcp.ts) on a fake clock: the handshake model and the
// application-limited sender's timer.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { EventQueue } from '../../../bench/sim/event-queue.js'
import { TcpSender, TcpReceiver, type TcpSegment } from '../../../bench/sim/tcp.js'

/** A sender and a receiver joined by a fixed one-way delay each way; `dropSyns` SYNs are lost. */
function pair (oneWayMs: number, dropSyns = 0): { events: EventQueue, sender: TcpSender, sent: TcpSegment[], delivered: () => number } {
  const events = new EventQueue()
  const sent: TcpSegment[] = []
  let synsToDrop = dropSyns
  let delivered = 0
  const receiver = new TcpReceiver(0, events, (seg) => events.after(oneWayMs, () => sender.onAck(seg)))
  receiver.onDeliver = (_now, n) => { delivered += n }
  const sender: TcpSender = new TcpSender(0, events, (seg) => {
    sent.push({ ...seg, cumAck: events.nowMs })
    if (seg.isSyn === true && synsToDrop-- > 0) return
    events.after(oneWayMs, () => receiver.onSegment(seg))
  })
  return { events, sender, sent, delivered: () => delivered }
}

test('open: a SYN first, the first window only once the SYN-ACK is back, one RTT later', { timeout: 10_000 }, () => {
  const { events, sender, sent } = pair(20)
  events.at(1, () => sender.open())
  events.run(40)
  assert.equal(sent.length, 1)
  assert.equal(sent[0]!.isSyn, true)
  assert.ok(Number.isNaN(sender.establishedMs))
  events.run(42)
  assert.equal(sender.establishedMs, 41)
  const data = sent.filter((s) => s.isSyn !== true)
  assert.equal(data.length, 10, 'the initial window')
  assert.ok(data.every((s) => s.cumAck === 41), 'sent when the SYN-ACK arrived')
})

test('open: an unanswered SYN is sent again after 1 s, then 2 s; the flow starts on the answer', { timeout: 10_000 }, () => {
  const { events, sender, sent, delivered } = pair(20, 2)
  sender.appRateBitsPerSec = 1e6 // the links here have no rate: a bulk flow's window would grow without end
  events.at(0, () => sender.open())
  events.run(5000)
  const syns = sent.filter((s) => s.isSyn === true)
  assert.deepEqual(syns.map((s) => s.cumAck), [0, 1000, 3000])
  assert.equal(sender.synsSent, 3)
  assert.equal(sender.establishedMs, 3040)
  assert.ok(delivered() > 0)
})

test('an application-limited sender keeps its rate on a start time where the segment time rounds down (no timer storm)', { timeout: 10_000 }, () => {
  const events = new EventQueue()
  let sends = 0
  const sender = new TcpSender(0, events, () => { sends++ })
  sender.appRateBitsPerSec = 4e6 // one 1500-byte segment per 3 ms
  // 60.0006 ms: (t - start) * rate / 12000 at t = start + 6 was 1.999... before the fix, and the
  // timer set for that instant found nothing due and set itself again, for ever.
  events.at(60.0006, () => sender.start())
  events.run(1060.0006)
  assert.ok(sends >= 10 && sends <= 12, `${sends} segments in 1 s (cwnd 10, no acks)`)
  assert.ok(events.size < 10, `${events.size} events pending`)
})
