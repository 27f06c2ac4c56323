/**
 * Fixed-size packet slots in a few large slabs, recycled through a free list: where received
 * packets wait in the reorder buffer without one Buffer allocation each. Grows by a slab when
 * every slot is taken (a long hold on a slow path); never shrinks.
 */
export class PacketPool {
  private readonly slabs: Buffer[] = []
  private readonly free: number[] = []
  readonly lengths: Uint32Array[] = []

  constructor (readonly slotBytes: number, private readonly slotsPerSlab = 1024) {}

  /** A free slot (its id); the caller fills it with write() and gives it back with release(). */
  take (): number {
    if (this.free.length === 0) this.grow()
    return this.free.pop()!
  }

  release (id: number): void {
    this.free.push(id)
  }

  /** Copies src[start, end) into slot `id` (at most slotBytes: the caller checks). */
  write (id: number, src: Buffer, start: number, end: number): void {
    const slab = (id / this.slotsPerSlab) | 0
    const index = id - slab * this.slotsPerSlab
    src.copy(this.slabs[slab]!, index * this.slotBytes, start, end)
    this.lengths[slab]![index] = end - start
  }

  slabOf (id: number): Buffer { return this.slabs[(id / this.slotsPerSlab) | 0]! }
  offsetOf (id: number): number { return (id % this.slotsPerSlab) * this.slotBytes }
  lengthOf (id: number): number { const slab = (id / this.slotsPerSlab) | 0; return this.lengths[slab]![id - slab * this.slotsPerSlab]! }

  /** Slots in use right now (for tests and `show`). */
  get inUse (): number { return this.slabs.length * this.slotsPerSlab - this.free.length }

  private grow (): void {
    const first = this.slabs.length * this.slotsPerSlab
    this.slabs.push(Buffer.alloc(this.slotsPerSlab * this.slotBytes))
    this.lengths.push(new Uint32Array(this.slotsPerSlab))
    for (let i = this.slotsPerSlab - 1; i >= 0; i--) this.free.push(first + i)
  }
}
