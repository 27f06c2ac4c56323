import { test } from 'node:test'
import assert from 'node:assert/strict'
import { checkPaths, checkPeers, parseEqualDelay, parsePathSpec, parsePeerSpec } from '../../../cmd/ttt-options.js'
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

test('--path: an address or a device, with dev=, mark=, backup, rate= and weight=', () => {
  assert.deepEqual(parsePathSpec('192.168.1.20'), { localAddress: '192.168.1.20' })
  assert.deepEqual(parsePathSpec('dev=wwan0,backup'), { localAddress: '0.0.0.0', device: 'wwan0', preference: 'backup' })
  assert.deepEqual(parsePathSpec('dev=wlan0', '::'), { localAddress: '::', device: 'wlan0' })
  assert.deepEqual(parsePathSpec('10.64.0.7,dev=eth1,mark=0x42,rate=20mbit,weight=3'),
    { localAddress: '10.64.0.7', device: 'eth1', mark: 0x42, txCapBitsPerSec: 20e6, weight: 3 })
  assert.deepEqual(parsePathSpec('0.0.0.0,mark=4294967295'), { localAddress: '0.0.0.0', mark: 4294967295 })
  const cases: Array<[string, RegExp]> = [
    ['wlan0', /"wlan0" is not a local IP address \(or dev=IFNAME\)/],
    ['dev=', /"" is not an interface name/],
    ['dev=averyveryverylongname', /is not an interface name \(1-15 characters\)/],
    ['dev=eth0,dev=eth1', /dev= given twice/],
    ['10.0.0.1,mark=0', /mark must be a number from 1 to 4294967295/],
    ['10.0.0.1,mark=4294967296', /mark must be/],
    ['10.0.0.1,mark=-1', /mark must be/],
    ['10.0.0.1,fast', /unknown option "fast" \(use dev=IFNAME, mark=N/],
  ]
  for (const [text, message] of cases) assert.throws(() => parsePathSpec(text), (err: Error) => err instanceof UsageError && message.test(err.message), text)
})

test('--path: the same address and device twice is refused; the same address on two devices is two paths', () => {
  checkPaths([parsePathSpec('dev=eth0'), parsePathSpec('dev=eth1'), parsePathSpec('0.0.0.0,mark=7')])
  assert.throws(() => checkPaths([parsePathSpec('10.0.0.1'), parsePathSpec('10.0.0.1,backup')]), /--path 10\.0\.0\.1 is given twice/)
  assert.throws(() => checkPaths([parsePathSpec('dev=eth0'), parsePathSpec('dev=eth0,weight=2')]), /--path dev=eth0 is given twice/)
})

test('--equal-delay: off when absent, TCP only when bare (or true), tcp or all by name, anything else an error', () => {
  assert.equal(parseEqualDelay(undefined), undefined)
  assert.equal(parseEqualDelay(false), undefined)
  assert.equal(parseEqualDelay(true), 'tcp')
  assert.equal(parseEqualDelay('tcp'), 'tcp')
  assert.equal(parseEqualDelay('all'), 'all')
  assert.throws(() => parseEqualDelay('udp'), (err: unknown) => err instanceof UsageError && err.message === '--equal-delay takes tcp or all, or nothing for tcp (got "udp")')
})
