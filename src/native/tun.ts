// A TUN device (IFF_TUN | IFF_NO_PI) with batched reads into a preallocated arena.
//
// Read path: the addon drains the non-blocking fd into `arena` (slot i at i * slotBytes, length
// in `lengths[i]`) and calls onBatch(count) once per batch. Packets are valid only during the
// call; copy or write them out before returning. Nothing is allocated per packet.
import { loadAddon, type IoHandle, type NativeAddon } from './addon.js'
import { NativeError, rethrowNative } from './native-error.js'
import { IO_STATS_FIELDS, readIoStats, type IoStats } from './io-stats.js'

export type { IoStats as TunStats } from './io-stats.js'

export interface TunOptions {
  /** Interface name (at most 15 bytes); empty or absent lets the kernel pick `tunN`. */
  name?: string
  /** IFF_MULTI_QUEUE: open the same name again for more queues. */
  multiQueue?: boolean
  mtuBytes?: number
  /** Addresses with prefix, IPv4 or IPv6: `10.9.0.1/24`, `fd00::1/64`. */
  addresses?: readonly string[]
  /** Bring the interface up after configuring it (default true). */
  up?: boolean
  /** Packets per read batch (default 64). */
  batchPackets?: number
  /** Bytes per arena slot; the MTU may not exceed it (default max(2048, mtuBytes)). */
  slotBytes?: number
  /** Called once per read batch with the number of packets in the arena. */
  onBatch?: (count: number) => void
  /**
   * Ask the kernel for TCP segmentation and checksum offload (IFF_VNET_HDR, TUNSETOFFLOAD): the
   * host's TCP hands over 64 KiB super-packets, which the addon cuts into MTU-sized packets
   * (reads look the same), and `writeSlots` glues consecutive segments of a TCP flow into one
   * write. Falls back to a plain TUN when the kernel refuses; `offload` says which it got.
   */
  offload?: boolean
}

const LAST_ERRNO = IO_STATS_FIELDS.indexOf('lastErrno')
const READ_ERRORS = IO_STATS_FIELDS.indexOf('readErrors')
const WRITE_ERRORS = IO_STATS_FIELDS.indexOf('writeErrors')
const EBADF = 9    // Linux errno values
const EBADFD = 77

const DEFAULT_BATCH_PACKETS = 64   // our choice: ~100 KB arena, amortizes one JS call well
const DEFAULT_SLOT_BYTES = 2048    // our choice: holds a 1500-byte MTU plus headroom

export class TunDevice {
  readonly name: string
  readonly fd: number
  readonly slotBytes: number
  /** TSO/GRO offload is on (see TunOptions.offload). */
  readonly offload: boolean
  /** Read arena: packet i of a batch is arena[i * slotBytes, i * slotBytes + lengths[i]). */
  readonly arena: Uint8Array
  readonly lengths: Uint32Array
  /** Live counters written by the addon; see stats() for a named snapshot. */
  readonly statsArray = new Float64Array(IO_STATS_FIELDS.length)
  private readonly native: NativeAddon
  private readonly io: IoHandle
  private handler: (count: number) => void
  private closed = false

  private constructor (native: NativeAddon, fd: number, name: string, offload: boolean, options: TunOptions) {
    this.native = native
    this.fd = fd
    this.name = name
    this.offload = offload
    this.slotBytes = options.slotBytes ?? Math.max(DEFAULT_SLOT_BYTES, options.mtuBytes ?? 0)
    const batch = options.batchPackets ?? DEFAULT_BATCH_PACKETS
    this.arena = new Uint8Array(this.slotBytes * batch)
    this.lengths = new Uint32Array(batch)
    this.handler = options.onBatch ?? (() => {})
    this.io = native.ioOpen(fd, this.arena, this.slotBytes, this.lengths, this.statsArray, (count) => this.handler(count))
    if (offload) native.ioSetOffload(this.io)
  }

  /** Opens (or creates) the device and configures it; throws NativeError with a readable cause. */
  static open (options: TunOptions = {}): TunDevice {
    const native = loadAddon()
    if (options.mtuBytes !== undefined && options.slotBytes !== undefined && options.mtuBytes > options.slotBytes) {
      throw new NativeError(`MTU ${options.mtuBytes} does not fit slots of ${options.slotBytes} bytes`, 'ERR_INVALID_ARG')
    }
    let opened: { fd: number, name: string, offload: boolean }
    try {
      opened = native.tunOpen(options.name ?? '', options.multiQueue ?? false, false, options.offload ?? false)
    } catch (error) {
      rethrowNative(error)
    }
    let device: TunDevice | undefined
    try {
      device = new TunDevice(native, opened.fd, opened.name, opened.offload, options)
      if (options.mtuBytes !== undefined) device.setMtu(options.mtuBytes)
      for (const address of options.addresses ?? []) device.addAddress(address)
      if (options.up ?? true) device.setUp(true)
      return device
    } catch (error) {
      if (device) device.close()
      else native.tunClose(opened.fd)
      rethrowNative(error)
    }
  }

  /** Replaces the batch handler. */
  onBatch (handler: (count: number) => void): this {
    this.handler = handler
    return this
  }

  /** Starts (or resumes after stop, for backpressure) delivering read batches. */
  start (): void {
    this.call(() => this.native.readStart(this.io))
  }

  /** Stops reading; packets wait in the kernel queue (and are dropped there when it is full). */
  stop (): void {
    this.call(() => this.native.readStop(this.io))
  }

  /** A view of packet i of the current batch (allocates: for tests and slow paths). */
  packet (i: number): Uint8Array {
    return this.arena.subarray(i * this.slotBytes, i * this.slotBytes + (this.lengths[i] ?? 0))
  }

  /** Writes one IP packet; false when dropped (EAGAIN/EIO, counted in stats). */
  write (packet: Uint8Array, lengthBytes?: number): boolean {
    return lengthBytes === undefined ? this.native.write(this.io, packet) : this.native.write(this.io, packet, lengthBytes)
  }

  /** Writes packets[0..count); returns how many the kernel took. */
  writeBatch (packets: readonly Uint8Array[], count = packets.length): number {
    return this.native.writeBatch(this.io, packets, Math.min(count, packets.length))
  }

  /**
   * Writes `count` packets laid out like the read arena (slot i at i * slotBytes); returns how
   * many the kernel took. With offload, in-order TCP segments of one flow go as one super-packet
   * (the slots' headers are rewritten).
   */
  writeSlots (arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number): number {
    return this.call(() => this.native.writeSlots(this.io, arena, slotBytes, lengths, count))
  }

  setMtu (mtuBytes: number): void {
    if (mtuBytes > this.slotBytes) throw new NativeError(`MTU ${mtuBytes} does not fit slots of ${this.slotBytes} bytes`, 'ERR_INVALID_ARG')
    this.call(() => this.native.tunSetMtu(this.name, mtuBytes))
  }

  setUp (up: boolean): void {
    this.call(() => this.native.tunSetUp(this.name, up))
  }

  /** Adds `ADDRESS/PREFIX` (IPv4 or IPv6). */
  addAddress (cidr: string): void {
    const slash = cidr.lastIndexOf('/')
    const address = slash < 0 ? cidr : cidr.slice(0, slash)
    const prefixLen = slash < 0 ? (address.includes(':') ? 128 : 32) : Number(cidr.slice(slash + 1))
    if (!Number.isInteger(prefixLen)) throw new NativeError(`invalid address ${cidr}`, 'ERR_INVALID_ARG')
    this.call(() => this.native.tunAddAddress(this.name, address, prefixLen))
  }

  stats (): IoStats {
    return readIoStats(this.statsArray)
  }

  /**
   * The device was removed under us (`ip link del`): the kernel detached our fd, so reads and
   * writes fail with EBADFD and the poll with EBADF. Nothing would ever pass through it again.
   * Cheap (two array reads): callers check it on their timer.
   */
  get isDetached (): boolean {
    const errno = this.statsArray[LAST_ERRNO]!
    return (errno === EBADF || errno === EBADFD) && this.statsArray[READ_ERRORS]! + this.statsArray[WRITE_ERRORS]! > 0
  }

  /** Stops reading and closes the fd (a non-persistent device disappears). Idempotent. */
  close (): void {
    if (this.closed) return
    this.closed = true
    this.native.ioClose(this.io)
    this.call(() => this.native.tunClose(this.fd))
  }

  private call<T> (fn: () => T): T {
    try {
      return fn()
    } catch (error) {
      rethrowNative(error)
    }
  }
}
