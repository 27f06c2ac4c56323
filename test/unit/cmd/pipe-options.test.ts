import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseBytes, parseSeconds, parseCount, tunablesFromFlags } from '../../../cmd/pipe-options.js'
import { UsageError } from '../../../src/errors.js'
import { decodeKey } from '../../../src/crypto/key.js'

test('sizes, seconds and counts', () => {
  assert.equal(parseBytes('262144', '--window'), 262144)
  assert.equal(parseBytes('256k', '--window'), 262144)
  assert.equal(parseBytes('1m', '--window'), 1048576)
  assert.equal(parseBytes('1MiB', '--window'), 1048576)
  assert.equal(parseSeconds(1.5, '--rekey'), 1.5)
  assert.equal(parseSeconds('30s', '--rekey'), 30)
  assert.equal(parseCount('12', '--max-streams'), 12)
  for (const bad of ['', 'x', '-1', '1q']) assert.throws(() => parseBytes(bad, '--window'), /--window takes a size/)
  for (const bad of ['0', '-3', 'abc']) assert.throws(() => parseSeconds(bad, '--rekey'), /--rekey takes a number of seconds/)
  assert.throws(() => parseCount('1.5', '--max-streams'), /whole number/)
})

test('flags become tunables; out-of-range values name the flag and its unit', () => {
  const t = tunablesFromFlags({ rekey: 1, window: '4m', maxStreams: 10, handshakeRate: 5 })
  assert.equal(t.rekeyIntervalMs, 1000)
  assert.equal(t.streamWindowBytes, 4 * 1048576)
  assert.equal(t.maxStreams, 10)
  assert.equal(t.handshakesPerSecond, 5)
  assert.equal(t.handshakeBurst, 10)
  assert.throws(() => tunablesFromFlags({ rekey: 0.01 }), (e: unknown) => e instanceof UsageError && /--rekey must be from 0.1 to 86400 seconds/.test(e.message))
  assert.throws(() => tunablesFromFlags({ window: '1k' }), (e: unknown) => e instanceof UsageError && /--window must be from 65536/.test(e.message))
})

test('key text: base64, base64url, passphrase, too short', () => {
  const key = Buffer.alloc(32, 9)
  assert.deepEqual(decodeKey(key.toString('base64') + '\n').key, key)
  assert.deepEqual(decodeKey(key.toString('base64url')).key, key)
  assert.equal(decodeKey(key.toString('base64')).fromPassphrase, false)
  assert.throws(() => decodeKey('  '), /empty/)
  assert.throws(() => decodeKey('short'), /at least 8 characters/)
})

test('a passphrase is stretched the same way on both sides', () => {
  const a = decodeKey('correct horse battery staple')
  const b = decodeKey('correct horse battery staple')
  assert.equal(a.fromPassphrase, true)
  assert.deepEqual(a.key, b.key)
  assert.notDeepEqual(a.key, decodeKey('correct horse battery stapler').key)
})
