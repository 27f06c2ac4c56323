/**
 * Collects inner packets for the TUN during a receive batch and writes them with one addon call
 * at the end (writeSlots): with TUN offload the addon glues in-order segments of one TCP flow into
 * a super-packet, so the host's TCP gets one packet per batch instead of one per segment.
 * Packets are copied into a fixed arena (no allocation per packet); a full arena is flushed early.
 */
import type { TunDevice } from '../native/index.js'

/** Our choice: a few UDP read batches' worth, so a whole GRO burst can be glued. */
const DEFAULT_CAPACITY = 256

export class TunWriteBatch {
  private readonly arena: Buffer
  private readonly lengths: Uint32Array
  private count = 0

  constructor (private readonly tun: TunDevice, private readonly slotBytes: number, private readonly capacity = DEFAULT_CAPACITY) {
    this.arena = Buffer.alloc(slotBytes * capacity)
    this.lengths = new Uint32Array(capacity)
  }

  /** Queues packet[offset, offset + length) for the TUN. */
  queue (packet: Buffer, offset: number, length: number): void {
    if (length > this.slotBytes) {
      this.tun.write(packet.subarray(offset, offset + length)) // oversized: let the kernel refuse it (counted)
      return
    }
    if (this.count === this.capacity) this.flush()
    const slot = this.count++
    packet.copy(this.arena, slot * this.slotBytes, offset, offset + length)
    this.lengths[slot] = length
  }

  flush (): void {
    if (this.count === 0) return
    this.tun.writeSlots(this.arena, this.slotBytes, this.lengths, this.count)
    this.count = 0
  }
}
