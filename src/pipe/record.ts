/**
 * Records on the pipe's TCP connection (docs/PROTOCOL.md, "Records"):
 *
 *   offset size
 *   0      4    length of everything after this field, big-endian
 *   4      1    record type (RecordType)
 *   HELLO / WELCOME:  5..  Noise handshake message
 *   SEALED:           5    key epoch (low byte)
 *                     6    counter, 64-bit big-endian (the AEAD nonce)
 *                     14.. ciphertext of one frame, then a 16-byte tag
 *   The associated data of a SEALED record is its first 14 bytes.
 */
import { ProtocolError } from '../errors.js'

export const enum RecordType {
  /** Client -> server: Noise message 1. */
  Hello = 1,
  /** Server -> client: Noise message 2. */
  Welcome = 2,
  /** Either way: one encrypted frame. */
  Sealed = 3,
}

export const LENGTH_BYTES = 4
export const SEALED_HEADER_BYTES = 14
/** Largest frame payload we send (our choice: one 64 KiB socket read per record). */
export const MAX_FRAME_PAYLOAD_BYTES = 65_536
/** Largest length field we accept: a full frame plus headers, with room to spare. */
export const MAX_RECORD_LENGTH = MAX_FRAME_PAYLOAD_BYTES + 256
/**
 * Node's write queue per pipe socket before it signals backpressure: room for two full records.
 * Node's default (16 KiB) is below one record, so every DATA write flagged the socket full and
 * paused the sending stream until the next tick's 'drain', even when the kernel took it at once.
 */
export const SOCKET_WRITE_HIGH_WATER_BYTES = 2 * MAX_RECORD_LENGTH
/** Smallest sealed record: header + frame header + tag. */
export const MIN_SEALED_LENGTH = SEALED_HEADER_BYTES - LENGTH_BYTES + 5 + 16

/**
 * Splits a byte stream into records. A record that lies within one chunk is handed out as a view
 * of that chunk (no copy); only records split across chunks are assembled into a new buffer.
 */
export class RecordReader {
  private header = Buffer.alloc(LENGTH_BYTES)
  private headerFilled = 0
  private assembly: Buffer | null = null
  private assemblyFilled = 0

  constructor (private readonly onRecord: (record: Buffer) => void, private readonly maxLength = MAX_RECORD_LENGTH) {}

  /** True while a partial record is buffered. */
  get hasPartial (): boolean { return this.headerFilled > 0 || this.assembly !== null }

  /** Feeds bytes; calls onRecord for every complete record. Throws ProtocolError on a bad length. */
  push (chunk: Buffer): void {
    let offset = 0
    if (this.headerFilled > 0 || this.assembly !== null) {
      offset = this.continuePartial(chunk)
      if (offset < 0) return
    }
    while (chunk.length - offset >= LENGTH_BYTES) {
      const length = chunk.readUInt32BE(offset)
      this.checkLength(length)
      const end = offset + LENGTH_BYTES + length
      if (end > chunk.length) break
      this.onRecord(chunk.subarray(offset, end))
      offset = end
    }
    if (offset < chunk.length) this.startPartial(chunk, offset)
  }

  private checkLength (length: number): void {
    if (length === 0) throw new ProtocolError('empty record', 'malformed')
    if (length > this.maxLength) throw new ProtocolError(`record of ${length} bytes exceeds the ${this.maxLength}-byte limit`, 'oversized')
  }

  private startPartial (chunk: Buffer, offset: number): void {
    const available = chunk.length - offset
    if (available < LENGTH_BYTES) {
      chunk.copy(this.header, 0, offset)
      this.headerFilled = available
      return
    }
    const length = chunk.readUInt32BE(offset)
    this.assembly = Buffer.allocUnsafe(LENGTH_BYTES + length)
    this.assemblyFilled = chunk.copy(this.assembly, 0, offset)
  }

  /** Completes the buffered record; returns where the rest of the chunk starts, or -1 if it was all consumed. */
  private continuePartial (chunk: Buffer): number {
    let offset = 0
    if (this.assembly === null) {
      const take = Math.min(LENGTH_BYTES - this.headerFilled, chunk.length)
      chunk.copy(this.header, this.headerFilled, 0, take)
      this.headerFilled += take
      offset = take
      if (this.headerFilled < LENGTH_BYTES) return -1
      const length = this.header.readUInt32BE(0)
      this.headerFilled = 0
      this.checkLength(length)
      this.assembly = Buffer.allocUnsafe(LENGTH_BYTES + length)
      this.header.copy(this.assembly, 0)
      this.assemblyFilled = LENGTH_BYTES
    }
    const copied = chunk.copy(this.assembly, this.assemblyFilled, offset)
    this.assemblyFilled += copied
    offset += copied
    if (this.assemblyFilled < this.assembly.length) return -1
    const record = this.assembly
    this.assembly = null
    this.onRecord(record)
    return offset
  }
}

/** A handshake record around a Noise message. */
export function encodeHandshakeRecord (type: RecordType.Hello | RecordType.Welcome, message: Uint8Array): Buffer {
  const record = Buffer.allocUnsafe(LENGTH_BYTES + 1 + message.length)
  record.writeUInt32BE(1 + message.length, 0)
  record[4] = type
  record.set(message, 5)
  return record
}
