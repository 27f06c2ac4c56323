// Inner IPv4 packets for the VPN's unit tests and pipeline bench: only the fields ttt reads (the
// version, the protocol and the addresses and ports its flow-class hash covers) are filled in.

export interface InnerPacketOptions {
  /** 6 (TCP) or 17 (UDP); default UDP. */
  protocol?: number
  srcPort?: number
  dstPort?: number
  /** Written at byte 28, to tell packets of one flow apart. */
  marker?: number
}

/** A `length`-byte IPv4 packet 10.9.0.2 -> 10.9.0.1 of one flow (source port 40000 by default). */
export function innerPacket (length: number, options: InnerPacketOptions = {}): Buffer {
  const p = Buffer.alloc(length)
  p[0] = 0x45
  p[9] = options.protocol ?? 17
  p.set([10, 9, 0, 2], 12)
  p.set([10, 9, 0, 1], 16)
  p.writeUInt16BE(options.srcPort ?? 40000, 20)
  p.writeUInt16BE(options.dstPort ?? 5201, 22)
  if (options.marker !== undefined) p.writeUInt32BE(options.marker, 28)
  return p
}
