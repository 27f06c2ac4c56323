import { test } from 'node:test'
import assert from 'node:assert/strict'
import { HandshakeReplayGuard } from '../../../src/crypto/handshake-guard.js'
import { MonotonicTimestamps } from '../../../src/crypto/tai64n.js'
import { RateLimiter } from '../../../src/crypto/rate-limiter.js'
import { FakeClock } from '../../../src/clock.js'

test('timestamps strictly increase even when the clock does not move', () => {
  const clock = new FakeClock(100)
  const ts = new MonotonicTimestamps(clock, Date.UTC(2026, 0, 1))
  const a = ts.next(); const b = ts.next()
  clock.advance(1000)
  const c = ts.next()
  assert.ok(Buffer.compare(b, a) > 0)
  assert.ok(Buffer.compare(c, b) > 0)
  assert.equal(c.readUInt32BE(8) - a.readUInt32BE(8), 0) // one second later: same nanoseconds
})

test('replayed or older handshakes of a client are refused; other clients are unaffected', () => {
  const guard = new HandshakeReplayGuard()
  const clock = new FakeClock()
  const alice = Buffer.alloc(16, 1); const bob = Buffer.alloc(16, 2)
  const aliceTs = new MonotonicTimestamps(clock, Date.UTC(2026, 0, 1))
  // Bob's clock is years behind: it must not matter.
  const bobTs = new MonotonicTimestamps(clock, Date.UTC(2001, 0, 1))
  const a1 = aliceTs.next(); const a2 = aliceTs.next()
  assert.equal(guard.accept(alice, a1), true)
  assert.equal(guard.accept(alice, a1), false, 'replay')
  assert.equal(guard.accept(bob, bobTs.next()), true, 'another client with an old clock')
  assert.equal(guard.accept(alice, a2), true)
  assert.equal(guard.accept(alice, a1), false, 'older')
})

test('the guard is bounded', () => {
  const guard = new HandshakeReplayGuard(3)
  for (let i = 0; i < 10; i++) guard.accept(Buffer.from([i]), Buffer.alloc(12, 1))
  assert.equal(guard.size, 3)
})

test('rate limiter: burst, refill, per source', () => {
  const limiter = new RateLimiter({ perSecond: 2, burst: 3 })
  const results = [0, 0, 0, 0].map(() => limiter.allow('a', 0))
  assert.deepEqual(results, [true, true, true, false])
  assert.equal(limiter.allow('b', 0), true)
  assert.equal(limiter.allow('a', 499), false)
  assert.equal(limiter.allow('a', 500), true)
})

test('rate limiter stays bounded under many sources', () => {
  const limiter = new RateLimiter({ perSecond: 1, burst: 1, maxSources: 100 })
  for (let i = 0; i < 10_000; i++) limiter.allow(`s${i}`, i)
  assert.equal(limiter.allow('s9999', 9999), false)
})
