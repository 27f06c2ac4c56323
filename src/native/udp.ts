// A UDP socket read with recvmmsg and written with sendmmsg, in the arena layout of TunDevice,
// plus per-slot peer addresses (ADDR_BYTES each) so a batch needs no object per datagram.
import { isIPv4, isIPv6 } from 'node:net'
import { loadAddon, type IoHandle, type NativeAddon } from './addon.js'
import { NativeError, rethrowNative } from './native-error.js'
import { IO_STATS_FIELDS, readIoStats, type IoStats } from './io-stats.js'

/** Bytes per address slot: family (4|6), 0, port (big endian), address (4 or 16 bytes). */
export const ADDR_BYTES = 20

/** Writes ip:port into addrs at slot `index`. */
export function encodeAddress (address: string, port: number, addrs: Uint8Array, index = 0): void {
  const at = index * ADDR_BYTES
  addrs.fill(0, at, at + ADDR_BYTES)
  addrs[at + 2] = port >> 8
  addrs[at + 3] = port & 0xff
  if (isIPv4(address)) {
    addrs[at] = 4
    address.split('.').forEach((octet, i) => { addrs[at + 4 + i] = Number(octet) })
  } else if (isIPv6(address)) {
    addrs[at] = 6
    const [head = '', tail = ''] = address.split('::')
    const groups = (s: string): string[] => s ? s.split(':') : []
    const h = groups(head)
    const t = groups(tail)
    const all = address.includes('::') ? [...h, ...Array(8 - h.length - t.length).fill('0'), ...t] : h
    all.forEach((g, i) => { const v = parseInt(g, 16); addrs[at + 4 + 2 * i] = v >> 8; addrs[at + 5 + 2 * i] = v & 0xff })
  } else {
    throw new NativeError(`invalid address ${address}`, 'ERR_INVALID_ARG')
  }
}

/** Reads slot `index` of addrs back as { address, port } (allocates: for logs and slow paths). */
export function decodeAddress (addrs: Uint8Array, index = 0): { address: string, port: number } {
  const at = index * ADDR_BYTES
  const port = (addrs[at + 2]! << 8) | addrs[at + 3]!
  if (addrs[at] === 4) return { address: Array.from(addrs.subarray(at + 4, at + 8)).join('.'), port }
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push((addrs[at + 4 + 2 * i]! << 8) | addrs[at + 5 + 2 * i]!)
  // RFC 5952: the longest run (of at least two) zero groups becomes '::'.
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) { best = i; bestLength = j - i }
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':')
  const address = best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`
  return { address, port }
}

export interface UdpOptions {
  /** Local address, IPv4 or IPv6 ('0.0.0.0', '::'). */
  address: string
  /** 0 or absent: the kernel picks a port. */
  port?: number
  /** Datagrams per read batch (default 64). */
  batchPackets?: number
  /** Bytes per arena slot, the largest datagram received whole (default 2048). */
  slotBytes?: number
  onBatch?: (count: number) => void
}

export class UdpSocket {
  readonly fd: number
  readonly port: number
  readonly slotBytes: number
  /** Datagram i of a batch is arena[i * slotBytes, + lengths[i]), from peer slot i of addrs. */
  readonly arena: Uint8Array
  readonly lengths: Uint32Array
  readonly addrs: Uint8Array
  readonly statsArray = new Float64Array(IO_STATS_FIELDS.length)
  private readonly native: NativeAddon
  private readonly io: IoHandle
  private handler: (count: number) => void
  private closed = false

  private constructor (native: NativeAddon, fd: number, port: number, options: UdpOptions) {
    this.native = native
    this.fd = fd
    this.port = port
    this.slotBytes = options.slotBytes ?? 2048
    const batch = options.batchPackets ?? 64
    this.arena = new Uint8Array(this.slotBytes * batch)
    this.lengths = new Uint32Array(batch)
    this.addrs = new Uint8Array(ADDR_BYTES * batch)
    this.handler = options.onBatch ?? (() => {})
    this.io = native.ioOpen(fd, this.arena, this.slotBytes, this.lengths, this.statsArray, (count) => this.handler(count), this.addrs)
  }

  static open (options: UdpOptions): UdpSocket {
    const native = loadAddon()
    let opened: { fd: number, port: number }
    try {
      opened = native.udpOpen(options.address, options.port ?? 0)
    } catch (error) {
      rethrowNative(error)
    }
    try {
      return new UdpSocket(native, opened.fd, opened.port, options)
    } catch (error) {
      native.tunClose(opened.fd)
      rethrowNative(error)
    }
  }

  onBatch (handler: (count: number) => void): this {
    this.handler = handler
    return this
  }

  start (): void { this.call(() => this.native.readStart(this.io)) }
  stop (): void { this.call(() => this.native.readStop(this.io)) }

  /** Sends one datagram to the peer in slot `addrIndex` of `addrs`; false when dropped (counted). */
  sendTo (packet: Uint8Array, lengthBytes: number, addrs: Uint8Array, addrIndex = 0): boolean {
    return this.native.sendTo(this.io, packet, lengthBytes, addrs, addrIndex)
  }

  /** Sends `count` datagrams in the arena layout with one sendmmsg per 64; returns how many went. */
  sendSlots (arena: Uint8Array, slotBytes: number, lengths: Uint32Array, addrs: Uint8Array, count: number): number {
    return this.call(() => this.native.sendSlots(this.io, arena, slotBytes, lengths, addrs, count))
  }

  stats (): IoStats {
    return readIoStats(this.statsArray)
  }

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
