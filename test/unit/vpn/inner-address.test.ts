import { test } from 'node:test'
import assert from 'node:assert/strict'
import { isLinkLocalSource, sourceText, ipv6Bytes, ipProtocolOf, IPPROTO_TCP } from '../../../src/vpn/inner-address.js'

function v6Packet (source: string, at = 3): Buffer {
  const packet = Buffer.alloc(at + 40)
  packet[at] = 0x60
  ipv6Bytes(source).copy(packet, at + 8)
  return packet
}

function v4Packet (source: number[], at = 3): Buffer {
  const packet = Buffer.alloc(at + 20)
  packet[at] = 0x45
  packet.set(source, at + 12)
  return packet
}

test('sourceText: IPv4 dotted, IPv6 in its shortest form (longest zero run as ::)', () => {
  assert.equal(sourceText(v4Packet([10, 9, 0, 3]), 3), '10.9.0.3')
  for (const [address, text] of [
    ['fe80::1', 'fe80::1'],
    ['::', '::'],
    ['fd00:0:0:1::2', 'fd00:0:0:1::2'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2:3:4:5:6'],
    ['1:0:0:2:0:0:0:3', '1:0:0:2::3'],
    ['1:0:2:3:4:5:6:7', '1:0:2:3:4:5:6:7'],
    ['::ff', '::ff'],
    ['ff::', 'ff::'],
  ] as const) assert.equal(sourceText(v6Packet(address), 3), text, address)
})

test('isLinkLocalSource: fe80::/10 and :: are, global, ULA and IPv4 are not', () => {
  assert.equal(isLinkLocalSource(v6Packet('fe80::c752:9496:18e2:5c80'), 3), true)
  assert.equal(isLinkLocalSource(v6Packet('febf::1'), 3), true)
  assert.equal(isLinkLocalSource(v6Packet('::'), 3), true)
  assert.equal(isLinkLocalSource(v6Packet('fec0::1'), 3), false)
  assert.equal(isLinkLocalSource(v6Packet('::1'), 3), false)
  assert.equal(isLinkLocalSource(v6Packet('fd00::2'), 3), false)
  assert.equal(isLinkLocalSource(v6Packet('2001:db8::1'), 3), false)
  assert.equal(isLinkLocalSource(v4Packet([0, 0, 0, 0]), 3), false)
})

test('ipProtocolOf: IPv4\'s protocol byte, IPv6\'s first next header; -1 for a packet too short to say or not IP', () => {
  const v4 = Buffer.alloc(40); v4[0] = 0x45; v4[9] = IPPROTO_TCP
  assert.equal(ipProtocolOf(v4, 0, 40), 6)
  v4[9] = 1
  assert.equal(ipProtocolOf(v4, 0, 40), 1, 'ICMP')
  assert.equal(ipProtocolOf(v4, 0, 19), -1, 'shorter than an IPv4 header')
  const v6 = Buffer.alloc(60); v6[0] = 0x60; v6[6] = 17
  assert.equal(ipProtocolOf(v6, 0, 60), 17)
  assert.equal(ipProtocolOf(v6, 0, 39), -1, 'shorter than an IPv6 header')
  const framed = Buffer.concat([Buffer.alloc(14), v6])
  assert.equal(ipProtocolOf(framed, 14, framed.length), 17, 'read at an offset within a datagram')
  assert.equal(ipProtocolOf(Buffer.from([0x00, 0, 0, 0]), 0, 4), -1, 'not IP')
})
