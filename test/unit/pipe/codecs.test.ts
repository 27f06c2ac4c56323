import { test } from 'node:test'
import assert from 'node:assert/strict'
import { decodeHello, decodeWelcome, encodeHello, encodeWelcome, HelloPurpose } from '../../../src/pipe/hello.js'
import { parseHostPort, formatHostPort } from '../../../src/pipe/address.js'
import { resolveTunables, DEFAULT_TUNABLES } from '../../../src/pipe/config.js'
import { frameName } from '../../../src/pipe/frame.js'
import { ProtocolError, UsageError } from '../../../src/errors.js'

test('hello and welcome round-trip; bad ones are handshake errors', () => {
  const hello = { purpose: HelloPurpose.NewSession, timestamp: Buffer.alloc(12, 1), clientId: Buffer.alloc(16, 2), streamWindowBytes: 1 << 20 }
  assert.deepEqual(decodeHello(encodeHello(hello)), hello)
  const welcome = { sessionId: Buffer.alloc(8, 3), streamWindowBytes: 65536 }
  assert.deepEqual(decodeWelcome(encodeWelcome(welcome)), welcome)
  const bad = [
    encodeHello(hello).subarray(1),
    Buffer.concat([Buffer.from([9]), encodeHello(hello).subarray(1)]),
    encodeHello({ ...hello, streamWindowBytes: 100 }),
  ]
  for (const b of bad) assert.throws(() => decodeHello(b), (e: unknown) => e instanceof ProtocolError && e.kind === 'handshake')
  assert.throws(() => decodeWelcome(Buffer.alloc(3)), ProtocolError)
})

test('HOST:PORT parsing', () => {
  const cases: Array<[string, string | null]> = [
    ['127.0.0.1:3128', '127.0.0.1:3128'],
    ['example.org:443', 'example.org:443'],
    ['[::1]:8080', '[::1]:8080'],
    ['3128', '127.0.0.1:3128'],
    ['::1:80', null],
    ['host', null],
    ['host:0', null],
    ['host:65536', null],
    ['host:12a', null],
    [':80', null],
  ]
  for (const [input, expected] of cases) {
    if (expected === null) assert.throws(() => parseHostPort(input, 'LISTEN', '127.0.0.1'), UsageError, input)
    else assert.equal(formatHostPort(parseHostPort(input, 'LISTEN', '127.0.0.1')), expected)
  }
})

test('tunables: defaults, overrides, and a clear error naming the field', () => {
  assert.deepEqual(resolveTunables(), DEFAULT_TUNABLES)
  assert.equal(resolveTunables({ rekeyIntervalMs: 1000 }).rekeyIntervalMs, 1000)
  assert.throws(() => resolveTunables({ streamWindowBytes: 10 }), /streamWindowBytes must be a number from 65536/)
  assert.throws(() => resolveTunables({ keepaliveMs: Number.NaN }), UsageError)
})

test('frame names for logs', () => {
  assert.equal(frameName(2), 'DATA')
  assert.equal(frameName(99), 'UNKNOWN(99)')
})
