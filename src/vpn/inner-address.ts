/**
 * Inner IP addresses for routing packets from the TUN to the right client, without allocating:
 * IPv4 addresses as unsigned 32-bit numbers, IPv6 as a string key only when needed.
 */
import { isIPv4, isIPv6 } from 'node:net'
import { ipText } from '../native/ip-text.js'

export const enum IpVersion { V4 = 4, V6 = 6 }

export function ipVersionOf (packet: Uint8Array, offset: number): number {
  return packet[offset]! >> 4
}

/** IP protocol numbers ttt looks at. */
export const IPPROTO_TCP = 6

/**
 * The inner packet's transport protocol: IPv4's protocol field, IPv6's first next header (an
 * extension header's number when there is one); -1 when the packet is too short to say.
 */
export function ipProtocolOf (packet: Uint8Array, offset: number, end: number): number {
  switch (ipVersionOf(packet, offset)) {
    case IpVersion.V4: return end - offset >= 20 ? packet[offset + 9]! : -1
    case IpVersion.V6: return end - offset >= 40 ? packet[offset + 6]! : -1
    default: return -1
  }
}

/** IPv4 destination as a u32 (the packet must be IPv4 and at least 20 bytes). */
export function ipv4Destination (packet: Uint8Array, offset: number): number {
  return ((packet[offset + 16]! << 24) | (packet[offset + 17]! << 16) | (packet[offset + 18]! << 8) | packet[offset + 19]!) >>> 0
}

export function ipv4Source (packet: Uint8Array, offset: number): number {
  return ((packet[offset + 12]! << 24) | (packet[offset + 13]! << 16) | (packet[offset + 14]! << 8) | packet[offset + 15]!) >>> 0
}

/** IPv6 source or destination as a hex key (allocates: IPv6 routing is the slower path). */
export function ipv6Key (packet: Uint8Array, offset: number, which: 'source' | 'destination'): string {
  const at = offset + (which === 'source' ? 8 : 24)
  return Buffer.from(packet.buffer, packet.byteOffset + at, 16).toString('hex')
}

/** The inner packet's source address as text, for a log line (allocates). */
export function sourceText (packet: Uint8Array, offset: number): string {
  return ipVersionOf(packet, offset) === IpVersion.V4 ? ipText(packet, offset + 12, 4) : ipText(packet, offset + 8, 6)
}

/**
 * An IPv6 source a host's kernel uses by itself on any interface, the TUN included: the
 * unspecified address (duplicate address detection, MLD before an address) and link-local
 * fe80::/10 (router solicitations, MLD reports). Such packets never belong in a peer's prefixes.
 */
export function isLinkLocalSource (packet: Uint8Array, offset: number): boolean {
  if (ipVersionOf(packet, offset) !== IpVersion.V6) return false
  const at = offset + 8
  if (packet[at] === 0xfe && (packet[at + 1]! & 0xc0) === 0x80) return true
  for (let i = 0; i < 16; i++) if (packet[at + i] !== 0) return false
  return true
}

export interface Prefix {
  version: 4 | 6
  /** IPv4: the network as u32; IPv6: 16 bytes. */
  v4: number
  v6: Buffer
  bits: number
}

/** Parses `ADDR/BITS` (or a bare address as a host prefix). */
function parseBits (text: string | undefined, max: number, whole: string): number {
  if (text === undefined) return max
  if (!/^\d{1,3}$/.test(text) || Number(text) > max) throw new RangeError(`bad prefix length in ${whole}`)
  return Number(text)
}

export function parsePrefix (text: string): Prefix {
  const parts = text.trim().split('/')
  if (parts.length > 2) throw new RangeError(`not ADDRESS/BITS: ${text}`)
  const [address = '', bitsText] = parts
  if (isIPv4(address)) {
    const bits = parseBits(bitsText, 32, text)
    const value = address.split('.').reduce((acc, octet) => ((acc << 8) | Number(octet)) >>> 0, 0)
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    return { version: 4, v4: (value & mask) >>> 0, v6: Buffer.alloc(0), bits }
  }
  const bits = parseBits(bitsText, 128, text)
  const v6 = ipv6Bytes(address)
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    v6[i]! &= keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff
  }
  return { version: 6, v4: 0, v6, bits }
}

/** Whether two prefixes share any address (one contains the other's network). */
export function prefixesOverlap (a: Prefix, b: Prefix): boolean {
  if (a.version !== b.version) return false
  const bits = Math.min(a.bits, b.bits)
  if (a.version === 4) {
    const mask = bits === 0 ? 0 : (0xffffffff << (32 - bits)) >>> 0
    return ((a.v4 & mask) >>> 0) === ((b.v4 & mask) >>> 0)
  }
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8))
    const mask = keep === 0 ? 0 : (0xff << (8 - keep)) & 0xff
    if ((a.v6[i]! & mask) !== (b.v6[i]! & mask)) return false
  }
  return true
}

export function ipv6Bytes (address: string): Buffer {
  if (!isIPv6(address)) throw new RangeError(`not an IP address: ${address}`)
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two hex groups.
  const v4Tail = /(\d+\.\d+\.\d+\.\d+)$/.exec(address)
  if (v4Tail) {
    const o = v4Tail[1]!.split('.').map(Number)
    address = address.slice(0, -v4Tail[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`
  }
  const [head = '', tail = ''] = address.split('::')
  const groups = (s: string): string[] => (s ? s.split(':') : [])
  const h = groups(head)
  const t = groups(tail)
  const all = address.includes('::') ? [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t] : h
  if (all.length !== 8 || all.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) throw new RangeError(`not an IP address: ${address}`)
  const out = Buffer.alloc(16)
  all.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), 2 * i))
  return out
}

export function prefixContainsV4 (prefix: Prefix, address: number): boolean {
  if (prefix.version !== 4) return false
  const mask = prefix.bits === 0 ? 0 : (0xffffffff << (32 - prefix.bits)) >>> 0
  return ((address & mask) >>> 0) === prefix.v4
}

export function prefixContainsV6 (prefix: Prefix, packet: Uint8Array, at: number): boolean {
  if (prefix.version !== 6) return false
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, prefix.bits - i * 8))
    if (keep === 0) return true
    const mask = (0xff << (8 - keep)) & 0xff
    if ((packet[at + i]! & mask) !== prefix.v6[i]) return false
  }
  return true
}
