/**
 * Collects outgoing datagrams of one socket during a read batch and sends them with one
 * sendmmsg per 64 at the end, instead of one syscall each. Datagrams are copied into a fixed
 * arena (no allocation per packet); a full arena is flushed early.
 */
import { ADDR_BYTES, type UdpSocket } from '../native/index.js'

export class SendBatch {
  private readonly arena: Buffer
  private readonly lengths: Uint32Array
  private readonly addrs: Uint8Array
  private count = 0

  constructor (private readonly socket: UdpSocket, private readonly slotBytes: number, private readonly capacity = 64) {
    this.arena = Buffer.alloc(slotBytes * capacity)
    this.lengths = new Uint32Array(capacity)
    this.addrs = new Uint8Array(ADDR_BYTES * capacity)
  }

  /** Queues datagram[0, length) for the address in slot `addrIndex` of `addrs`. */
  queue (datagram: Buffer, length: number, addrs: Uint8Array, addrIndex: number): void {
    if (length > this.slotBytes) {
      this.socket.sendTo(datagram, length, addrs, addrIndex) // oversized: let the kernel refuse it (counted)
      return
    }
    if (this.count === this.capacity) this.flush()
    const slot = this.count++
    datagram.copy(this.arena, slot * this.slotBytes, 0, length)
    this.lengths[slot] = length
    this.addrs.set(addrs.subarray(addrIndex * ADDR_BYTES, addrIndex * ADDR_BYTES + ADDR_BYTES), slot * ADDR_BYTES)
  }

  flush (): void {
    if (this.count === 0) return
    this.socket.sendSlots(this.arena, this.slotBytes, this.lengths, this.addrs, this.count)
    this.count = 0
  }
}
