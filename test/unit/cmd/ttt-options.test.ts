import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkPeers, parsePeerSpec } from '../../../cmd/ttt-options.js'
import { parsePrefix, prefixesOverlap } from '../../../src/vpn/inner-address.js'
import { UsageError } from '../../../src/errors.js'

test('--peer: name, key source and allowed prefixes (repeatable, IPv4 and IPv6)', () => {
  assert.deepEqual(parsePeerSpec('alice,key=@/etc/gst/alice.key,allowed=10.9.0.2/32,allowed=fd09::2/128'),
    { name: 'alice', keySpec: '@/etc/gst/alice.key', allowedIps: ['10.9.0.2/32', 'fd09::2/128'] })
  assert.deepEqual(parsePeerSpec(' bob , key=env:BOB_KEY '), { name: 'bob', keySpec: 'env:BOB_KEY', allowedIps: [] })
  // a literal key may itself contain '=' (base64 padding)
  assert.deepEqual(parsePeerSpec('carol,key=abc=='), { name: 'carol', keySpec: 'abc==', allowedIps: [] })
})

test('--peer errors say what is wrong and how to write it', () => {
  const cases: Array<[string, RegExp]> = [
    ['', /the name must be 1-32 letters/],
    ['a b,key=@k', /the name must be/],
    ['alice', /alice: key= is missing \(NAME,key=@FILE/],
    ['alice,key=@a,key=@b', /key= given twice/],
    ['alice,key=@a,allowed=10.9.0.2', /is not ADDRESS\/PREFIX/],
    ['alice,key=@a,allowed=', /unknown option "allowed="/],
    ['alice,key=@a,backup', /unknown option "backup"/],
  ]
  for (const [text, message] of cases) assert.throws(() => parsePeerSpec(text), (err: Error) => err instanceof UsageError && message.test(err.message), text)
})

test('peers: names are unique and no inner address belongs to two of them', () => {
  const peer = (name: string, ...allowedIps: string[]): ReturnType<typeof parsePeerSpec> => ({ name, keySpec: `@${name}`, allowedIps })
  checkPeers([peer('a', '10.9.0.2/32'), peer('b', '10.9.0.3/32', 'fd09::3/128'), peer('c')])
  assert.throws(() => checkPeers([peer('a'), peer('a')]), /a: the name is used twice/)
  assert.throws(() => checkPeers([peer('a', '10.9.0.0/24'), peer('b', '10.9.0.3/32')]), /b allowed=10\.9\.0\.3\/32 overlaps a's allowed=10\.9\.0\.0\/24/)
  assert.throws(() => checkPeers([peer('a', 'fd09::/64'), peer('b', 'fd09::5/128')]), /overlaps/)
})

test('prefixesOverlap: containment either way, not across families or neighbours', () => {
  const o = (a: string, b: string): boolean => prefixesOverlap(parsePrefix(a), parsePrefix(b))
  assert.equal(o('10.9.0.0/24', '10.9.0.3/32'), true)
  assert.equal(o('10.9.0.3/32', '10.9.0.0/24'), true)
  assert.equal(o('10.9.0.0/25', '10.9.0.128/25'), false)
  assert.equal(o('0.0.0.0/0', '192.0.2.1/32'), true)
  assert.equal(o('fd09::/64', 'fd09:0:0:1::/64'), false)
  assert.equal(o('fd09::/48', 'fd09:0:0:1::/64'), true)
  assert.equal(o('10.9.0.0/24', 'fd09::/64'), false)
})
