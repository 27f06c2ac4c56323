/**
 * Puts one direction of a stream back in order: DATA may arrive on any subflow, in any order,
 * and more than once (re-sent after a subflow was lost). Segments are held by offset until the
 * bytes before them arrive; what was already delivered is dropped, overlaps are trimmed. The
 * flow-control window bounds what can be held (the stream checks it before pushing).
 */
export class Reassembler {
  /** Next offset to deliver: every byte before it has been handed out, in order. */
  deliveredOffset = 0
  /** Out-of-order segments, sorted by offset, none overlapping what was delivered. */
  private readonly held: Array<{ offset: number, data: Buffer }> = []
  /** Bytes held out of order. */
  heldBytes = 0
  /** Highest end offset ever pushed (a FIN's final size must not be below it). */
  highestEnd = 0

  /**
   * Takes bytes [offset, offset + data.length); calls `deliver` for every in-order run that
   * becomes available (a view of the pushed buffer where possible). Duplicates deliver nothing.
   */
  push (offset: number, data: Buffer, deliver: (bytes: Buffer) => void): void {
    const end = offset + data.length
    if (end > this.highestEnd) this.highestEnd = end
    if (end <= this.deliveredOffset || data.length === 0) return
    if (offset <= this.deliveredOffset) {
      const bytes = offset === this.deliveredOffset ? data : data.subarray(this.deliveredOffset - offset)
      this.deliveredOffset = end
      deliver(bytes)
      this.drainHeld(deliver)
      return
    }
    this.hold(offset, data)
  }

  private hold (offset: number, data: Buffer): void {
    // Binary search for the first held segment starting at or after `offset`.
    let lo = 0
    let hi = this.held.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.held[mid]!.offset < offset) lo = mid + 1
      else hi = mid
    }
    // Already covered by the segment before or at this position? (Re-sent chunks keep their boundaries.)
    const before = this.held[lo - 1]
    if (before !== undefined && before.offset + before.data.length >= offset + data.length) return
    const at = this.held[lo]
    if (at !== undefined && at.offset === offset && at.data.length >= data.length) return
    // Keep the part not covered by the previous segment; a later overlapping one is trimmed on delivery.
    if (before !== undefined && before.offset + before.data.length > offset) {
      const cut = before.offset + before.data.length - offset
      data = data.subarray(cut)
      offset += cut
    }
    if (at !== undefined && at.offset === offset) {
      this.heldBytes -= at.data.length
      this.held[lo] = { offset, data }
    } else {
      this.held.splice(lo, 0, { offset, data })
    }
    this.heldBytes += data.length
  }

  private drainHeld (deliver: (bytes: Buffer) => void): void {
    while (this.held.length > 0) {
      const first = this.held[0]!
      if (first.offset > this.deliveredOffset) return
      this.held.shift()
      this.heldBytes -= first.data.length
      const end = first.offset + first.data.length
      if (end <= this.deliveredOffset) continue
      const bytes = first.offset === this.deliveredOffset ? first.data : first.data.subarray(this.deliveredOffset - first.offset)
      this.deliveredOffset = end
      deliver(bytes)
    }
  }

  /** Drops everything held (the stream is gone). */
  clear (): void {
    this.held.length = 0
    this.heldBytes = 0
  }
}
