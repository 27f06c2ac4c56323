import { DEFAULT_FLOW_BUCKETS } from './constants.js'

/** FNV-1a 32-bit (http://www.isthe.com/chongo/tech/comp/fnv/): offset basis and prime, from its spec. */
const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

function fnvBytes (hash: number, bytes: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) hash = Math.imul(hash ^ bytes[i]!, FNV_PRIME)
  return hash
}

/**
 * Flow class of an inner IP packet: a hash of its 5-tuple (addresses, protocol, TCP/UDP ports)
 * into `buckets`. Fragments and other protocols hash without ports, so all pieces of one
 * datagram share a bucket. Unparsable packets go to bucket 0.
 */
export function flowBucketOf (packet: Uint8Array, buckets = DEFAULT_FLOW_BUCKETS, length = packet.length): number {
  // `length`: the packet is packet[0, length) (a caller's reusable view may be longer).
  if (length < 1) return 0
  const version = packet[0]! >> 4
  let hash = FNV_OFFSET
  let proto: number
  let l4: number
  if (version === 4 && length >= 20) {
    const ihl = (packet[0]! & 0x0f) * 4
    proto = packet[9]!
    hash = fnvBytes(hash, packet, 12, 20)
    const isFragment = ((packet[6]! & 0x3f) | packet[7]!) !== 0 // MF flag or a fragment offset
    l4 = isFragment ? -1 : ihl
  } else if (version === 6 && length >= 40) {
    proto = packet[6]!
    hash = fnvBytes(hash, packet, 8, 40)
    l4 = 40 // extension headers: hashed without ports (proto is then the extension's number)
  } else {
    return 0
  }
  hash = Math.imul(hash ^ proto, FNV_PRIME)
  if ((proto === 6 || proto === 17) && l4 >= 0 && length >= l4 + 4) hash = fnvBytes(hash, packet, l4, l4 + 4)
  return (hash >>> 0) % buckets
}

/** Sender side: the next sequence number of each flow-class bucket. */
export class FlowSequencer {
  private readonly nextSeq: Float64Array
  constructor (readonly buckets = DEFAULT_FLOW_BUCKETS) {
    this.nextSeq = new Float64Array(buckets)
  }

  next (bucket: number): number {
    const seq = this.nextSeq[bucket]!
    this.nextSeq[bucket] = seq + 1
    return seq
  }
}
