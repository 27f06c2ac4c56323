/**
 * Probe and feedback messages (plaintext of SEALED datagrams) to and from the multipath core's
 * plain data. Offsets are relative to the message start (byte 14 of the datagram).
 */
import { type PathFeedback, unwrapSeq32 } from '../multipath/feedback.js'
import { MAX_NACKS_PER_FEEDBACK } from '../multipath/constants.js'
import {
  MessageKind, FEEDBACK_ABOUT_PATH, FEEDBACK_NACK_COUNT, FEEDBACK_HIGHEST_SEQ, FEEDBACK_RECEIVED_PACKETS,
  FEEDBACK_RECEIVED_BYTES, FEEDBACK_ECHO_SEQ, FEEDBACK_ECHO_TX_MS, FEEDBACK_ECHO_RX_MS, FEEDBACK_ACK_DELAY_MS, FEEDBACK_NACKS, FEEDBACK_HEADER_BYTES,
  PROBE_HEADER_BYTES,
} from './wire.js'

/** Bytes a feedback message takes with `nackCount` nacks. */
export function feedbackBytes (nackCount: number): number {
  return FEEDBACK_HEADER_BYTES + 4 * nackCount
}

/** Writes feedback about path `aboutPathId`, sent on path `viaPathId`, at buf[at..]; returns its length. */
export function writeFeedback (buf: Buffer, at: number, viaPathId: number, aboutPathId: number, fb: PathFeedback): number {
  const nacks = Math.min(fb.nackCount, MAX_NACKS_PER_FEEDBACK)
  buf[at] = MessageKind.Feedback
  buf[at + 1] = viaPathId
  buf[at + FEEDBACK_ABOUT_PATH] = aboutPathId
  buf[at + FEEDBACK_NACK_COUNT] = nacks
  buf.writeUInt32BE(fb.highestSeq >>> 0, at + FEEDBACK_HIGHEST_SEQ)
  buf.writeUInt32BE(fb.receivedPackets >>> 0, at + FEEDBACK_RECEIVED_PACKETS)
  buf.writeDoubleBE(fb.receivedBytes, at + FEEDBACK_RECEIVED_BYTES)
  buf.writeUInt32BE(fb.echoSeq >>> 0, at + FEEDBACK_ECHO_SEQ)
  buf.writeDoubleBE(fb.echoTxTimeMs, at + FEEDBACK_ECHO_TX_MS)
  buf.writeDoubleBE(fb.echoRxTimeMs, at + FEEDBACK_ECHO_RX_MS)
  buf.writeFloatBE(fb.ackDelayMs, at + FEEDBACK_ACK_DELAY_MS)
  for (let i = 0; i < nacks; i++) buf.writeUInt32BE(fb.nacks[i]! >>> 0, at + FEEDBACK_NACKS + 4 * i)
  return feedbackBytes(nacks)
}

/**
 * Makes `fb` the copy of a feedback sent on another path than the one it is about: an echo far
 * older than anything the sender still waits for (2^30 sequences back, so a receiver of any
 * version takes no RTT sample from it: that round trip would be another path's). Its ack delay
 * stays the time since the highest sequence arrived: on a silence report that is the silence.
 */
export function copyOfFeedback (fb: PathFeedback): PathFeedback {
  fb.echoSeq = fb.highestSeq - 0x4000_0000
  fb.echoTxTimeMs = 0
  fb.echoRxTimeMs = 0
  return fb
}

/**
 * Reads feedback into `out` (reused). 32-bit sequences are widened around `nextSeq`, the sender's
 * next sequence on that path. Returns the path it is about, or -1 if malformed.
 */
export function readFeedback (buf: Buffer, at: number, length: number, nextSeq: number, out: PathFeedback): number {
  if (length < FEEDBACK_HEADER_BYTES) return -1
  const nacks = buf[at + FEEDBACK_NACK_COUNT]!
  if (nacks > MAX_NACKS_PER_FEEDBACK || length < feedbackBytes(nacks)) return -1
  const ref = Math.max(0, nextSeq - 1)
  out.highestSeq = unwrapSeq32(ref, buf.readUInt32BE(at + FEEDBACK_HIGHEST_SEQ))
  out.receivedPackets = buf.readUInt32BE(at + FEEDBACK_RECEIVED_PACKETS)
  out.receivedBytes = buf.readDoubleBE(at + FEEDBACK_RECEIVED_BYTES)
  out.echoSeq = unwrapSeq32(ref, buf.readUInt32BE(at + FEEDBACK_ECHO_SEQ))
  out.echoTxTimeMs = buf.readDoubleBE(at + FEEDBACK_ECHO_TX_MS)
  out.echoRxTimeMs = buf.readDoubleBE(at + FEEDBACK_ECHO_RX_MS)
  out.ackDelayMs = buf.readFloatBE(at + FEEDBACK_ACK_DELAY_MS)
  for (let i = 0; i < nacks; i++) out.nacks[i] = unwrapSeq32(ref, buf.readUInt32BE(at + FEEDBACK_NACKS + 4 * i))
  out.nackCount = nacks
  return buf[at + FEEDBACK_ABOUT_PATH]!
}

/** Writes a probe (padded to `totalBytes` of message) at buf[at..]; returns its length. */
export function writeProbe (buf: Buffer, at: number, pathId: number, pathSeq: number, txTimeMs: number, flags: number, totalBytes = PROBE_HEADER_BYTES): number {
  buf[at] = MessageKind.Probe
  buf[at + 1] = pathId
  buf.writeUInt32BE(pathSeq >>> 0, at + 2)
  buf.writeDoubleBE(txTimeMs, at + 6)
  buf[at + 14] = flags
  const length = Math.max(PROBE_HEADER_BYTES, totalBytes)
  if (length > PROBE_HEADER_BYTES) buf.fill(0, at + PROBE_HEADER_BYTES, at + length)
  return length
}
