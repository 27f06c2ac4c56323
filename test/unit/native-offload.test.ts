// TUN offload in the addon (native/offload.c): TCP super-packets cut into segments, and segments
// glued back, checked against packets built here from scratch with an independent checksum.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { loadAddon } from '../../src/native/index.js'

const addon = loadAddon()
const VNET = 10
const NEEDS_CSUM = 1
const GSO_TCPV4 = 1
const GSO_TCPV6 = 4
const GSO_ECN = 0x80
const ACK = 0x10
const PSH = 0x08
const FIN = 0x01
const CWR = 0x80

/** RFC 1071, the plain way: big-endian 16-bit words, end-around carry. */
function sum16 (bytes: Uint8Array, start = 0, end = bytes.length, initial = 0): number {
  let sum = initial
  for (let i = start; i < end; i += 2) sum += (bytes[i]! << 8) | (i + 1 < end ? bytes[i + 1]! : 0)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}

function pseudoSum (packet: Uint8Array, l4Length: number): number {
  const v4 = packet[0]! >> 4 === 4
  let sum = v4 ? sum16(packet, 12, 20) : sum16(packet, 8, 40)
  sum += 6 + (l4Length >>> 16) + (l4Length & 0xffff)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  return sum
}

interface Flow { version: 4 | 6, srcPort: number, dstPort: number, options?: number[] }

/** One TCP/IP packet with correct IPv4 header and TCP checksums. */
function tcpPacket (flow: Flow, seq: number, flags: number, payload: Uint8Array, ipId = 0): Buffer {
  const options = flow.options ?? [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2] // NOP NOP timestamps
  const tcpLength = 20 + options.length
  const l4 = flow.version === 4 ? 20 : 40
  const p = Buffer.alloc(l4 + tcpLength + payload.length)
  if (flow.version === 4) {
    p[0] = 0x45
    p.writeUInt16BE(p.length, 2)
    p.writeUInt16BE(ipId, 4)
    p.writeUInt16BE(0x4000, 6) // DF
    p[8] = 64
    p[9] = 6
    p.set([10, 9, 0, 2], 12)
    p.set([10, 9, 0, 1], 16)
    p.writeUInt16BE(~sum16(p, 0, 20) & 0xffff, 10)
  } else {
    p[0] = 0x60
    p.writeUInt16BE(p.length - 40, 4)
    p[6] = 6
    p[7] = 64
    p.set([0xfd, 0, ...Array(13).fill(0), 2], 8)
    p.set([0xfd, 0, ...Array(13).fill(0), 1], 24)
  }
  p.writeUInt16BE(flow.srcPort, l4)
  p.writeUInt16BE(flow.dstPort, l4 + 2)
  p.writeUInt32BE(seq >>> 0, l4 + 4)
  p.writeUInt32BE(777, l4 + 8)
  p[l4 + 12] = (tcpLength / 4) << 4
  p[l4 + 13] = flags
  p.writeUInt16BE(501, l4 + 14)
  p.set(options, l4 + 20)
  p.set(payload, l4 + tcpLength)
  p.writeUInt16BE(~sum16(p, l4, p.length, pseudoSum(p, p.length - l4)) & 0xffff, l4 + 16)
  return p
}

function isValid (p: Uint8Array): boolean {
  const v4 = p[0]! >> 4 === 4
  const l4 = v4 ? (p[0]! & 15) * 4 : 40
  if (v4 && sum16(p, 0, l4) !== 0xffff) return false
  return sum16(p, l4, p.length, pseudoSum(p, p.length - l4)) === 0xffff
}

function payloadOf (n: number, salt: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_, i) => (i * 31 + salt) & 0xff)
}

function vnetHeader (flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number): Buffer {
  const h = Buffer.alloc(VNET)
  h[0] = flags
  h[1] = gsoType
  h.writeUInt16LE(hdrLen, 2)
  h.writeUInt16LE(gsoSize, 4)
  h.writeUInt16LE(csumStart, 6)
  h.writeUInt16LE(csumOffset, 8)
  return h
}

/** What a TUN with TSO hands over: the whole payload in one packet, checksum left partial. */
function superPacket (flow: Flow, seq: number, flags: number, payload: Uint8Array, mss: number, ipId: number, ecn = false): Buffer {
  const p = tcpPacket(flow, seq, flags, payload, ipId)
  const l4 = flow.version === 4 ? 20 : 40
  const hl = l4 + 20 + (flow.options ?? [1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2]).length
  p.writeUInt16BE(pseudoSum(p, p.length - l4), l4 + 16) // the kernel leaves the pseudo-header sum
  const type = (flow.version === 4 ? GSO_TCPV4 : GSO_TCPV6) | (ecn ? GSO_ECN : 0)
  return Buffer.concat([vnetHeader(NEEDS_CSUM, type, hl, mss, l4, 16), p])
}

function split (packet: Uint8Array, slotBytes = 2048, first = 0, max = 64): Buffer[] | null {
  const out = new Uint8Array(slotBytes * max)
  const lengths = new Uint32Array(max)
  const n = addon.offloadSplit(packet, out, slotBytes, lengths, first, max)
  if (n < 0) return null
  return Array.from({ length: n }, (_, i) => Buffer.from(out.subarray(i * slotBytes, i * slotBytes + lengths[i]!)))
}

for (const version of [4, 6] as const) {
  test(`IPv${version}: a TCP super-packet is cut into the segments the sender would have sent`, () => {
    const flow: Flow = { version, srcPort: 40000, dstPort: 5201 }
    const mss = 1388
    const payload = payloadOf(3 * mss + 500, version)
    const seq = 0xffff_f000 // wraps within the packet
    const segments = split(superPacket(flow, seq, ACK | PSH | FIN, payload, mss, 100))
    assert.ok(segments)
    const expected = [0, 1, 2, 3].map((k) => tcpPacket(flow, seq + k * mss, k === 3 ? ACK | PSH | FIN : ACK, payload.subarray(k * mss, Math.min(payload.length, (k + 1) * mss)), version === 4 ? 100 + k : 0))
    assert.deepEqual(segments.map((s) => s.toString('hex')), expected.map((s) => s.toString('hex')))
    for (const s of segments) assert.ok(isValid(s))
  })

  test(`IPv${version}: segments of one flow are glued into one super-packet with a partial checksum; its segments are the originals`, () => {
    const flow: Flow = { version, srcPort: 40001, dstPort: 5201 }
    const mss = 1200
    const originals = Array.from({ length: 8 }, (_, k) => tcpPacket(flow, 1000 + k * mss, k === 7 ? ACK | PSH : ACK, payloadOf(k === 7 ? 300 : mss, k), 50 + k))
    const items = coalesce(originals)
    assert.equal(items.length, 1)
    const { header, packet } = items[0]!
    const l4 = version === 4 ? 20 : 40
    assert.deepEqual(header, { flags: NEEDS_CSUM, gsoType: version === 4 ? GSO_TCPV4 : GSO_TCPV6, hdrLen: l4 + 32, gsoSize: mss, csumStart: l4, csumOffset: 16 })
    assert.equal(packet.length, l4 + 32 + 7 * mss + 300)
    // The kernel completes the checksum from csumStart; the result must verify as a TCP checksum.
    const completed = Buffer.from(packet)
    completed.writeUInt16BE(~sum16(completed, l4) & 0xffff, l4 + 16)
    assert.ok(isValid(completed), 'completed checksum verifies')
    assert.equal(packet[l4 + 13], ACK | PSH, 'PSH of the last segment is kept')
    // Cut again as the kernel would: the same segments (IPv4 ids follow the first).
    const again = split(Buffer.concat([vnetHeaderOf(header), packet]))
    assert.ok(again)
    assert.deepEqual(again.map((s) => s.toString('hex')), originals.map((s) => s.toString('hex')))
  })
}

function vnetHeaderOf (h: { flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number }): Buffer {
  return vnetHeader(h.flags, h.gsoType, h.hdrLen, h.gsoSize, h.csumStart, h.csumOffset)
}

function coalesce (packets: Uint8Array[], slotBytes = 2048): Array<{ header: { flags: number, gsoType: number, hdrLen: number, gsoSize: number, csumStart: number, csumOffset: number }, packet: Buffer }> {
  const arena = new Uint8Array(slotBytes * packets.length)
  const lengths = new Uint32Array(packets.length)
  packets.forEach((p, i) => { arena.set(p, i * slotBytes); lengths[i] = p.length })
  const out = Buffer.alloc(packets.length * (slotBytes + VNET))
  const outLengths = new Uint32Array(packets.length)
  const n = addon.offloadCoalesce(arena, slotBytes, lengths, packets.length, out, outLengths)
  const items = []
  let at = 0
  for (let i = 0; i < n; i++) {
    const item = out.subarray(at, at + outLengths[i]!)
    at += outLengths[i]!
    items.push({
      header: { flags: item[0]!, gsoType: item[1]!, hdrLen: item.readUInt16LE(2), gsoSize: item.readUInt16LE(4), csumStart: item.readUInt16LE(6), csumOffset: item.readUInt16LE(8) },
      packet: Buffer.from(item.subarray(VNET)),
    })
  }
  return items
}

test('ECN: CWR stays on the first segment only', () => {
  const flow: Flow = { version: 4, srcPort: 1, dstPort: 2 }
  const segments = split(superPacket(flow, 5, ACK | CWR, payloadOf(3000, 1), 1000, 7, true))
  assert.ok(segments)
  assert.deepEqual(segments.map((s) => s[20 + 13]), [ACK | CWR, ACK, ACK])
  for (const s of segments) assert.ok(isValid(s))
})

test('a packet without GSO: a partial UDP checksum is completed; one without NEEDS_CSUM is passed as it is', () => {
  const udp = Buffer.alloc(20 + 8 + 33)
  udp[0] = 0x45; udp.writeUInt16BE(udp.length, 2); udp[8] = 64; udp[9] = 17
  udp.set([10, 0, 0, 1, 10, 0, 0, 2], 12)
  udp.writeUInt16BE(~sum16(udp, 0, 20) & 0xffff, 10)
  udp.writeUInt16BE(53, 20); udp.writeUInt16BE(4242, 22); udp.writeUInt16BE(41, 24)
  udp.set(payloadOf(33, 9), 28)
  let pseudo = sum16(udp, 12, 20) + 17 + 41
  while (pseudo > 0xffff) pseudo = (pseudo & 0xffff) + (pseudo >>> 16)
  const partial = Buffer.from(udp)
  partial.writeUInt16BE(pseudo, 26)
  const [done] = split(Buffer.concat([vnetHeader(NEEDS_CSUM, 0, 0, 0, 20, 6), partial]))!
  const expected = Buffer.from(udp)
  expected.writeUInt16BE(~sum16(udp, 20, udp.length, pseudo) & 0xffff || 0xffff, 26)
  assert.equal(done!.toString('hex'), expected.toString('hex'))
  assert.equal(split(Buffer.concat([vnetHeader(0, 0, 0, 0, 0, 0), udp]))![0]!.toString('hex'), udp.toString('hex'))
})

test('a super-packet cut across batches: segments [first, first + max) continue where the last batch stopped', () => {
  const flow: Flow = { version: 6, srcPort: 3, dstPort: 4 }
  const packet = superPacket(flow, 0, ACK, payloadOf(10 * 500, 2), 500, 0)
  const whole = split(packet)!
  const parts = [...split(packet, 2048, 0, 4)!, ...split(packet, 2048, 4, 4)!, ...split(packet, 2048, 8, 4)!]
  assert.equal(whole.length, 10)
  assert.deepEqual(parts.map((s) => s.toString('hex')), whole.map((s) => s.toString('hex')))
})

test('malformed super-packets are refused: wrong IP version for the GSO type, headers past the end, segments larger than a slot', () => {
  const v6 = superPacket({ version: 6, srcPort: 1, dstPort: 2 }, 0, ACK, payloadOf(3000, 3), 1000, 0)
  v6[1] = GSO_TCPV4
  assert.equal(split(v6), null)
  const v4 = superPacket({ version: 4, srcPort: 1, dstPort: 2 }, 0, ACK, payloadOf(3000, 3), 1000, 0)
  assert.equal(split(v4.subarray(0, VNET + 30)), null)
  assert.equal(split(v4, 600), null)
  const tooBig = Buffer.from(v4)
  tooBig.writeUInt16LE(0, 4) // gso_size 0
  assert.equal(split(tooBig), null)
})

test('gluing keeps each flow in order and glues only what a receiver may treat as one: gaps, flags, options, short segments and other protocols split items', () => {
  const a: Flow = { version: 4, srcPort: 1000, dstPort: 80 }
  const b: Flow = { version: 4, srcPort: 1001, dstPort: 80 }
  const otherOptions: Flow = { ...a, options: [1, 1, 8, 10, 0, 0, 0, 9, 0, 0, 0, 2] }
  const seg = (f: Flow, k: number, flags = ACK, size = 1000): Buffer => tcpPacket(f, k * 1000, flags, payloadOf(size, k), k)
  const udp = Buffer.from(tcpPacket(a, 0, ACK, payloadOf(10, 0)))
  udp[9] = 17 // not TCP: passed alone
  const packets = [
    seg(a, 0), seg(b, 0), seg(a, 1), seg(b, 1), udp, seg(a, 2), // a 0-2 glued, b 0-1 glued, udp alone
    seg(a, 4), // gap: a new item for a
    seg(a, 5, ACK | PSH), seg(a, 6), // PSH ends the item; 6 starts another
    tcpPacket(otherOptions, 7000, ACK, payloadOf(1000, 7)), // other timestamps: new item
    seg(b, 2, ACK, 400), seg(b, 3), // b continues its first item; the short segment ends it
    seg(a, 8, ACK | FIN), // FIN: never glued
  ]
  const items = coalesce(packets.map((p) => Buffer.from(p)))
  const describe = items.map(({ header, packet }) => {
    const l4 = 20
    return `${packet.readUInt16BE(l4)}:${packet.readUInt32BE(l4 + 4) / 1000}+${header.gsoSize ? Math.ceil((packet.length - 52) / header.gsoSize) : 1}`
  })
  assert.deepEqual(describe, ['1000:0+3', '1001:0+3', '1000:0+1', '1000:4+2', '1000:6+1', '1000:7+1', '1001:3+1', '1000:8+1'])
  assert.equal(items[2]!.packet[9], 17)
  for (const { header, packet } of items) {
    if (header.gsoType !== 0) continue
    assert.deepEqual(header, { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 })
    if (packet[9] === 6) assert.ok(isValid(packet), 'a packet written alone is unchanged (still valid)')
  }
})
