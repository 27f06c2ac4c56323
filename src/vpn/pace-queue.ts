/**
 * Sealed datagrams of one path waiting for their pacing time, in a fixed ring (no allocation per
 * packet). Release times never decrease, so the ring is FIFO; a full ring sends at once rather
 * than drop (pacing is a courtesy to the bottleneck, not a reason to lose data).
 */
export class PaceQueue {
  private readonly slab: Buffer
  private readonly lengths: Uint16Array
  private readonly releaseMs: Float64Array
  private readonly seqs: Float64Array
  private head = 0
  private count = 0
  /** Release time of the last datagram queued (or sent): later ones never go earlier. */
  lastReleaseMs = -Infinity

  constructor (private readonly slotBytes: number, private readonly capacity = 256) {
    this.slab = Buffer.alloc(slotBytes * capacity)
    this.lengths = new Uint16Array(capacity)
    this.releaseMs = new Float64Array(capacity)
    this.seqs = new Float64Array(capacity)
  }

  get size (): number { return this.count }
  get isFull (): boolean { return this.count === this.capacity }

  /** Earliest pending release, or Infinity. */
  get nextReleaseMs (): number { return this.count > 0 ? this.releaseMs[this.head]! : Infinity }

  /** `seq` is the path sequence it carries (handed back at release, for the path's reply deadlines). */
  push (datagram: Buffer, length: number, releaseMs: number, seq = -1): void {
    const slot = (this.head + this.count++) % this.capacity
    this.seqs[slot] = seq
    datagram.copy(this.slab, slot * this.slotBytes, 0, length)
    this.lengths[slot] = length
    this.releaseMs[slot] = releaseMs
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
