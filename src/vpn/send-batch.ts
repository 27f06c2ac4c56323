/**
 * Collects outgoing datagrams of one socket during a read batch and sends them with one
 * sendmmsg per 64 at the end, instead of one syscall each. Datagrams are copied into a fixed
 * arena (no allocation per packet); a full arena is flushed early. Datagrams queued unsealed
 * (queueUnsealed) are sealed at the flush, one addon call per run of one key.
 */
import { ADDR_BYTES, ADDR_WORDS, addressWords, type UdpSocket } from '../native/index.js'
import type { AeadKey } from '../crypto/aead.js'
import { SEALED_HEADER_BYTES } from './wire.js'

export class SendBatch {
  private readonly arena: Buffer
  private readonly lengths: Uint32Array
  private readonly addrs: Uint8Array
  private readonly addrWords: Int32Array
  /** The address array last copied from, and its word view (undefined: unaligned, copied bytewise). */
  private sourceAddrs: Uint8Array | undefined
  private sourceWords: Int32Array | undefined
  /** Per slot: the key to seal it with at the flush (undefined: queued sealed), and its counter. */
  private readonly keys: (AeadKey | undefined)[]
  private readonly counters: Float64Array
  /** A view of each slot, made once: slotFor hands one out to be written in place. */
  private readonly views: Buffer[] = []
  private unsealed = 0
  private count = 0

  constructor (private readonly socket: UdpSocket, private readonly slotBytes: number, private readonly capacity = 64) {
    this.arena = Buffer.alloc(slotBytes * capacity)
    this.lengths = new Uint32Array(capacity)
    this.addrs = new Uint8Array(ADDR_BYTES * capacity)
    this.addrWords = addressWords(this.addrs)!
    this.keys = new Array<AeadKey | undefined>(capacity).fill(undefined)
    this.counters = new Float64Array(capacity)
    for (let i = 0; i < capacity; i++) this.views.push(this.arena.subarray(i * slotBytes, (i + 1) * slotBytes))
  }

  /**
   * The slot the next datagram goes into, to be written in place (header at 0) and then queued
   * with commitUnsealed before anything else is queued: one copy fewer than queueUnsealed. A full
   * batch is flushed first. Undefined when `length` + 16 does not fit a slot.
   */
  slotFor (length: number): Buffer | undefined {
    if (length + 16 > this.slotBytes) return undefined
    if (this.count === this.capacity) this.flush()
    return this.views[this.count]
  }

  /** Queues the datagram written into slotFor's slot ([0, length), tag room after) to be sealed at the flush. */
  commitUnsealed (length: number, addrs: Uint8Array, addrIndex: number, key: AeadKey, counter: number): void {
    const slot = this.count++
    this.lengths[slot] = length
    this.setAddress(slot, addrs, addrIndex)
    this.sealAtFlush(slot, key, counter)
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
    this.keys[slot] = undefined
    this.setAddress(slot, addrs, addrIndex)
  }

  /**
   * Copies address slot `addrIndex` of `addrs` into batch slot `slot`: 10 words through a view
   * made once per source array (the callers pass the same one or two arrays every time), not 40
   * bytes and not set(subarray), which makes a view per datagram.
   */
  private setAddress (slot: number, addrs: Uint8Array, addrIndex: number): void {
    if (addrs !== this.sourceAddrs) {
      this.sourceAddrs = addrs
      this.sourceWords = addressWords(addrs)
    }
    const words = this.sourceWords
    if (words !== undefined) {
      const from = addrIndex * ADDR_WORDS
      const to = slot * ADDR_WORDS
      for (let i = 0; i < ADDR_WORDS; i++) this.addrWords[to + i] = words[from + i]!
      return
    }
    const from = addrIndex * ADDR_BYTES
    const to = slot * ADDR_BYTES
    for (let i = 0; i < ADDR_BYTES; i++) this.addrs[to + i] = addrs[from + i]!
  }

  /** Marks batch slot `slot` to be sealed with `key` and `counter` at the flush. */
  private sealAtFlush (slot: number, key: AeadKey, counter: number): void {
    this.keys[slot] = key
    this.counters[slot] = counter
    this.unsealed++
  }

  /**
   * Queues datagram[0, length) (header written, text in the clear, room for the tag after it)
   * to be sealed with `key` and `counter` at the flush; `length` excludes the tag.
   */
  queueUnsealed (datagram: Buffer, length: number, addrs: Uint8Array, addrIndex: number, key: AeadKey, counter: number): void {
    if (length + 16 > this.slotBytes) {
      key.sealRange(datagram, 0, SEALED_HEADER_BYTES, length, counter)
      this.queue(datagram, length + 16, addrs, addrIndex)
      return
    }
    this.queue(datagram, length, addrs, addrIndex)
    this.sealAtFlush(this.count - 1, key, counter)
  }

  /** Datagrams dropped because their key was gone at the flush (never expected: keys flush before they change). */
  dropped = 0

  flush (): void {
    if (this.count === 0) return
    if (this.unsealed > 0) {
      try {
        this.seal()
      } catch {
        this.dropped += this.count
        this.keys.fill(undefined, 0, this.count)
        this.unsealed = 0
        this.count = 0
        return
      }
    }
    this.socket.sendSlots(this.arena, this.slotBytes, this.lengths, this.addrs, this.count)
    this.count = 0
  }

  /** Seals the unsealed slots, one addon call per run of slots with one key. */
  private seal (): void {
    for (let i = 0; i < this.count;) {
      const key = this.keys[i]
      if (key === undefined) { i++; continue }
      let end = i + 1
      while (end < this.count && this.keys[end] === key) end++
      key.sealSlots(this.arena.subarray(i * this.slotBytes), this.slotBytes, this.lengths.subarray(i), end - i, SEALED_HEADER_BYTES, this.counters.subarray(i))
      for (let j = i; j < end; j++) this.keys[j] = undefined
      i = end
    }
    this.unsealed = 0
  }
}
