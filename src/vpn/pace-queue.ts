/**
 * Sealed datagrams of one path waiting for their pacing time, in a ring (no allocation per
 * packet). Release times never decrease, so the ring is FIFO. A full ring doubles, up to
 * `maxCapacity`; one full at that sends at once rather than drop (pacing is a courtesy to the
 * bottleneck, not a reason to lose data).
 */
export class PaceQueue {
  private slab: Buffer
  private lengths: Uint16Array
  private releaseMs: Float64Array
  private seqs: Float64Array
  private capacity: number
  private head = 0
  private count = 0
  /** Release time of the last datagram queued (or sent): later ones never go earlier. */
  lastReleaseMs = -Infinity

  /**
   * Our choice: 256 datagrams (about 360 KB, 145 ms at 20 Mbit/s) cover the 40 ms queue `auto`
   * plans per path; the ring grows to 4 times that for what comes at once beyond the plan. That
   * is a failover's repairs: 140-190 units of the dead path's, handed to l1 in the lab at once. At 256
   * the ring overflowed, the whole queue left in one burst, and l1's own bottleneck dropped a
   * run of 31 packets, which the inner TCP then had to resend (stalls of 290-420 ms).
   */
  constructor (private readonly slotBytes: number, capacity = 256, readonly maxCapacity = 4 * capacity) {
    this.capacity = capacity
    this.slab = Buffer.alloc(slotBytes * capacity)
    this.lengths = new Uint16Array(capacity)
    this.releaseMs = new Float64Array(capacity)
    this.seqs = new Float64Array(capacity)
  }

  get size (): number { return this.count }
  /** Full at its largest: the caller sends at once instead. */
  get isFull (): boolean { return this.count === this.capacity && this.capacity >= this.maxCapacity }

  /** Earliest pending release, or Infinity. */
  get nextReleaseMs (): number { return this.count > 0 ? this.releaseMs[this.head]! : Infinity }

  /** `seq` is the path sequence it carries (handed back at release, for the path's reply deadlines). */
  push (datagram: Buffer, length: number, releaseMs: number, seq = -1): void {
    if (this.count === this.capacity) this.grow()
    const slot = (this.head + this.count++) % this.capacity
    this.seqs[slot] = seq
    datagram.copy(this.slab, slot * this.slotBytes, 0, length)
    this.lengths[slot] = length
    this.releaseMs[slot] = releaseMs
  }

  /** Doubles the ring (up to maxCapacity), keeping the order; the head moves to slot 0. */
  private grow (): void {
    const capacity = Math.min(2 * this.capacity, this.maxCapacity)
    if (capacity <= this.capacity) throw new RangeError('pace queue is full')
    const slab = Buffer.alloc(this.slotBytes * capacity)
    const lengths = new Uint16Array(capacity)
    const releaseMs = new Float64Array(capacity)
    const seqs = new Float64Array(capacity)
    for (let i = 0; i < this.count; i++) {
      const from = (this.head + i) % this.capacity
      this.slab.copy(slab, i * this.slotBytes, from * this.slotBytes, from * this.slotBytes + this.lengths[from]!)
      lengths[i] = this.lengths[from]!
      releaseMs[i] = this.releaseMs[from]!
      seqs[i] = this.seqs[from]!
    }
    this.slab = slab
    this.lengths = lengths
    this.releaseMs = releaseMs
    this.seqs = seqs
    this.capacity = capacity
    this.head = 0
  }

  /** Drops everything waiting (the path went down: its units were handed back for repair). */
  clear (): void {
    this.head = 0
    this.count = 0
    this.lastReleaseMs = -Infinity
  }

  /** Hands every datagram due by `dueMs` to `send`, oldest first. */
  release (dueMs: number, send: (datagram: Buffer, length: number, seq: number) => void): void {
    while (this.count > 0 && this.releaseMs[this.head]! <= dueMs) {
      const slot = this.head
      send(this.slab.subarray(slot * this.slotBytes, slot * this.slotBytes + this.lengths[slot]!), this.lengths[slot]!, this.seqs[slot]!)
      this.head = (this.head + 1) % this.capacity
      this.count--
    }
  }
}
