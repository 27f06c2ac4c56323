import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HandshakeSilence, FIRST_REPORT_MS, MAX_REPORT_INTERVAL_MS } from '../../../src/vpn/handshake-silence.js'

/** Sends a handshake every second from `from` to `to` and returns the times a report came. */
function reportsBetween (silence: HandshakeSilence, from: number, to: number): number[] {
  const at: number[] = []
  for (let t = from; t <= to; t += 1000) if (silence.noteSent(t) !== undefined) at.push(t - from)
  return at
}

test('unanswered handshakes: first report after 5 s, then at doubling intervals', () => {
  const silence = new HandshakeSilence()
  assert.deepEqual(reportsBetween(silence, 0, 60_000), [5_000, 10_000, 20_000, 40_000])
})

test('the interval between reports is capped', () => {
  const silence = new HandshakeSilence()
  const at = reportsBetween(silence, 0, 2_000_000)
  const gaps = at.slice(1).map((t, i) => t - at[i]!)
  assert.ok(Math.max(...gaps) <= MAX_REPORT_INTERVAL_MS, `gaps ${gaps.join(', ')}`)
  assert.equal(gaps.at(-1), MAX_REPORT_INTERVAL_MS)
})

test('a report says how many went unanswered, for how long, and whether the server ever answered', () => {
  const silence = new HandshakeSilence()
  let report
  for (let t = 0; t <= FIRST_REPORT_MS; t += 1000) report = silence.noteSent(t) ?? report
  assert.deepEqual(report, { unanswered: 6, silentMs: 5000, answeredBefore: false })
  assert.equal(silence.noteAnswered(7000), 7000, 'a reported silence: its length is returned')
  report = undefined
  for (let t = 100_000; t <= 100_000 + FIRST_REPORT_MS; t += 1000) report = silence.noteSent(t) ?? report
  assert.deepEqual(report, { unanswered: 6, silentMs: 5000, answeredBefore: true })
})

test('an answer within the first seconds resets quietly', () => {
  const silence = new HandshakeSilence()
  assert.equal(silence.noteSent(0), undefined)
  assert.equal(silence.noteSent(1000), undefined)
  assert.equal(silence.noteAnswered(1500), undefined, 'not reported: nothing to say')
  assert.deepEqual(reportsBetween(silence, 50_000, 56_000), [5_000], 'the count starts again')
})
