// The tick gate: a tick that fires late waits for the event loop's next I/O poll (setImmediate);
// one on time runs at once.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { TickGate, isLateTick, LATE_TICK_SLACK_MS } from '../../../src/vpn/tick-gate.js'
import { FakeClock } from '../../../src/clock.js'

test('isLateTick: late only past the tick interval plus the slack', () => {
  assert.equal(isLateTick(0, 5, 5), false)
  assert.equal(isLateTick(0, 5 + LATE_TICK_SLACK_MS, 5), false)
  assert.equal(isLateTick(0, 5 + LATE_TICK_SLACK_MS + 1, 5), true)
})

test('an on-time tick runs at once; a late one only after pending I/O callbacks, once', async () => {
  const clock = new FakeClock(0)
  const ticks: number[] = []
  const gate = new TickGate(5, clock, () => ticks.push(clock.now()))
  gate.run()
  clock.advance(5)
  gate.fire()
  assert.deepEqual(ticks, [0, 5], 'on time: ran synchronously')
  clock.advance(150) // the process was stopped
  gate.fire()
  gate.fire() // the interval fired again before the deferred tick ran: still one tick
  assert.deepEqual(ticks, [0, 5], 'late: not run synchronously')
  assert.equal(gate.lateTicks, 1)
  await new Promise((resolve) => setImmediate(resolve))
  assert.deepEqual(ticks, [0, 5, 155], 'ran after the I/O poll')
  clock.advance(5)
  gate.fire()
  assert.deepEqual(ticks, [0, 5, 155, 160], 'on time again')
})

test('cancel drops a deferred tick', async () => {
  const clock = new FakeClock(0)
  let ticks = 0
  const gate = new TickGate(5, clock, () => ticks++)
  gate.run()
  clock.advance(100)
  gate.fire()
  gate.cancel()
  await new Promise((resolve) => setImmediate(resolve))
  assert.equal(ticks, 1)
})
