/**
 * UDP datagrams of the VPN (docs/PROTOCOL.md, "VPN mode"). Pure codec: offsets, encoders into
 * caller-owned buffers, and decoders that read in place. Integers big-endian.
 *
 * Outer header, first byte = DatagramType:
 *   INIT      0 type, 1 version, 2 u32 sender index, 6.. Noise message 1, then mac1, mac2 (16 each)
 *   RESPONSE  0 type, 1 version, 2 u32 sender index, 6 u32 receiver index, 10.. Noise message 2
 *   COOKIE_REPLY 0 type, 1 version, 2 u32 receiver index, 6 24-byte nonce, 30 sealed cookie (32)
 *   SEALED    0 type, 1 key epoch (low byte), 2 u32 receiver index, 6 u64 counter,
 *             14.. ciphertext of one message, then a 16-byte tag; associated data = bytes 0..13
 *
 * Message (plaintext of SEALED), first byte = MessageKind, second = the id of the path the
 * datagram was sent on (chosen by the client; the server learns each path's address from it).
 */
export const PROTOCOL_VERSION = 1

export const enum DatagramType {
  Init = 1,
  Response = 2,
  Sealed = 3,
  /** Server -> client under handshake load: a sealed cookie (src/vpn/handshake.ts). */
  CookieReply = 4,
}

export const enum MessageKind {
  /** An inner IP packet. 2 u16 flow bucket, 4 u32 flow seq, 8 u32 path seq, 12 f64 tx time ms, 20.. packet. */
  Data = 1,
  /** Path probe. 2 u32 path seq, 6 f64 tx time ms, 14 u8 flags (ProbeFlags), 15.. padding (PMTU probes). */
  Probe = 2,
  /** Feedback about one path; see FEEDBACK_* offsets. */
  Feedback = 3,
  /** Key rotation, initiator -> responder: Noise message 1. */
  RekeyInit = 4,
  /** Key rotation, responder -> initiator: Noise message 2. */
  RekeyReply = 5,
  /** The sender ends the session. 2 u8 reason. */
  Close = 6,
  /** Answer to a path-MTU probe. 2 u16 length of the probe datagram as received. */
  MtuReply = 7,
  /** Packets the sender will not repair: 2 u8 count, then per packet u16 flow bucket, u32 flow seq. */
  Abandon = 8,
  /**
   * FEC parity of a group of packets on this path (a lossy one): 2 u32 path seq of the group's
   * first member, 6 u8 members (consecutive path seqs), 7 u16 XOR of the members' lengths, 9..
   * XOR of the members, each zero-padded to the longest. A member is a data message's u16 flow
   * bucket and u32 flow seq followed by its inner packet. Takes no path seq.
   */
  Parity = 9,
}

/** Why a CLOSE was sent (its reason byte). */
export const enum CloseReason {
  /** The sender is shutting down. */
  Shutdown = 1,
  /** The server took the client's key off its peer list. */
  Removed = 2,
}

export const enum ProbeFlags {
  /** A path-MTU probe: padded to the size under test; the answer confirms that size. */
  Mtu = 1,
}

export const INIT_HEADER_BYTES = 6
export const RESPONSE_HEADER_BYTES = 10
export const SEALED_HEADER_BYTES = 14
export const TAG_BYTES = 16
export const MESSAGE_HEADER_BYTES = 2
export const DATA_HEADER_BYTES = 20
export const PROBE_HEADER_BYTES = 15
export const PARITY_HEADER_BYTES = 9
/** A FEC member's bytes before its inner packet (flow bucket, flow seq): a parity is never longer than a data message. */
export const FEC_MEMBER_HEADER_BYTES = 6
/** IPv4 + UDP headers, and IPv6 + UDP headers, in front of every datagram on the wire. */
export const IPV4_UDP_HEADER_BYTES = 28
export const IPV6_UDP_HEADER_BYTES = 48
/** Every byte a data packet costs on the wire beyond the inner packet (without IP/UDP headers). */
export const DATA_OVERHEAD_BYTES = SEALED_HEADER_BYTES + DATA_HEADER_BYTES + TAG_BYTES

// Feedback layout (offsets within the message).
export const FEEDBACK_ABOUT_PATH = 2
export const FEEDBACK_NACK_COUNT = 3
export const FEEDBACK_HIGHEST_SEQ = 4
export const FEEDBACK_RECEIVED_PACKETS = 8
export const FEEDBACK_RECEIVED_BYTES = 12
export const FEEDBACK_ECHO_SEQ = 20
export const FEEDBACK_ECHO_TX_MS = 24
export const FEEDBACK_ECHO_RX_MS = 32
export const FEEDBACK_ACK_DELAY_MS = 40
export const FEEDBACK_NACKS = 44
export const FEEDBACK_HEADER_BYTES = 44

/**
 * Big-endian u32 and u16 stores for the per-packet headers: inlined where they are used, unlike
 * Buffer's writeUInt32BE (argument checks, a call per field: 1 % of the sending ttt in perf).
 * `value` must already be an integer in range.
 */
function putU32 (buf: Uint8Array, value: number, at: number): void {
  buf[at] = value >>> 24
  buf[at + 1] = value >>> 16
  buf[at + 2] = value >>> 8
  buf[at + 3] = value
}

function putU16 (buf: Uint8Array, value: number, at: number): void {
  buf[at] = value >>> 8
  buf[at + 1] = value
}

/** Writes the SEALED header; the caller then seals bytes [14, end - 16) in place. */
export function writeSealedHeader (buf: Buffer, epoch: number, receiverIndex: number, counter: number): void {
  buf[0] = DatagramType.Sealed
  buf[1] = epoch & 0xff
  putU32(buf, receiverIndex, 2)
  putU32(buf, Math.floor(counter / 0x1_0000_0000), 6)
  putU32(buf, counter % 0x1_0000_0000, 10)
}

export function readSealedCounter (buf: Buffer, at = 0): number {
  return buf.readUInt32BE(at + 6) * 0x1_0000_0000 + buf.readUInt32BE(at + 10)
}

/** Data message header, written at `at` (the start of the plaintext). */
export function writeDataHeader (buf: Buffer, at: number, pathId: number, bucket: number, flowSeq: number, pathSeq: number, txTimeMs: number): void {
  buf[at] = MessageKind.Data
  buf[at + 1] = pathId
  putU16(buf, bucket, at + 2)
  putU32(buf, flowSeq % 0x1_0000_0000, at + 4)
  putU32(buf, pathSeq % 0x1_0000_0000, at + 8)
  buf.writeDoubleBE(txTimeMs, at + 12)
}
