/**
 * Memory for the sealed records a channel writes, carved from a reused slab instead of a fresh
 * buffer per record. A fresh 64 KiB buffer per record is an ArrayBuffer with its own backing
 * store: a bulk stream made tens of thousands of them per GB, and their external memory set off
 * garbage collections ("external memory pressure"). Writes complete in order, and once the
 * socket's queue is empty no earlier record is referenced any more, so the slab starts over.
 */

/** Our choice: room for several full records, small next to a session's other buffers. */
export const SEND_SLAB_BYTES = 1 << 20

export class SendSlab {
  private slab: Buffer | undefined
  private used = 0

  constructor (private readonly slabBytes = SEND_SLAB_BYTES) {}

  /**
   * A buffer of `bytes` for one record, valid until the socket has written it. `flushed`: the
   * socket holds no earlier record (its write queue is empty), so the whole slab is free again.
   * A slab whose space ran out is left to the records still queued in it (and the collector).
   */
  take (bytes: number, flushed: boolean): Buffer {
    if (bytes > this.slabBytes) return Buffer.allocUnsafeSlow(bytes)
    if (flushed) this.used = 0
    if (this.slab === undefined || this.used + bytes > this.slabBytes) {
      this.slab = Buffer.allocUnsafeSlow(this.slabBytes)
      this.used = 0
    }
    const at = this.used
    // Records start 8-byte aligned (cheap, and friendlier to the cipher's loads).
    this.used = (at + bytes + 7) & ~7
    return this.slab.subarray(at, at + bytes)
  }
}
