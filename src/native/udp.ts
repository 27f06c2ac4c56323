// A UDP socket read with recvmmsg and written with sendmmsg, in the arena layout of TunDevice,
// plus per-slot peer addresses (ADDR_BYTES each) so a batch needs no object per datagram.
import { isIPv4, isIPv6 } from 'node:net'
import { loadAddon, type IoHandle, type NativeAddon } from './addon.js'
import { NativeError, rethrowNative } from './native-error.js'
import { IO_STATS_FIELDS, readIoStats, type IoStats } from './io-stats.js'
import { ipText } from './ip-text.js'

/** Bytes of one address: family (4|6), 0, port (big endian), address (4 or 16 bytes). */
export const PEER_ADDR_BYTES = 20
/**
 * Bytes per address slot: the peer, then the local address a datagram arrived on (port 0, family
 * 0 when unknown). Only a socket bound to a wildcard address learns it; a slot whose local half is
 * set is sent from that address, so replies leave from the address the peer wrote to.
 */
export const ADDR_BYTES = 2 * PEER_ADDR_BYTES
/** Int32 words per address slot: hot paths copy and compare a slot as 10 words instead of 40 bytes. */
export const ADDR_WORDS = ADDR_BYTES / 4

/** An Int32Array over the same bytes as `addrs` (for addressWords copies), or undefined when they are not 4-byte aligned. */
export function addressWords (addrs: Uint8Array): Int32Array | undefined {
  return addrs.byteOffset % 4 === 0 ? new Int32Array(addrs.buffer, addrs.byteOffset, addrs.byteLength >> 2) : undefined
}

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

/** The local address of slot `index` (where its datagram arrived), or undefined when unknown. */
export function decodeLocalAddress (addrs: Uint8Array, index = 0): string | undefined {
  const at = index * ADDR_BYTES + PEER_ADDR_BYTES
  if (addrs[at] !== 4 && addrs[at] !== 6) return undefined
  return decodeAt(addrs, at).address
}

/** `address:port`, with IPv6 addresses in brackets (`[fd00::1]:5000`), for logs and status. */
export function endpointText (address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

/** Reads the peer of slot `index` of addrs back as { address, port } (allocates: for logs and slow paths). */
export function decodeAddress (addrs: Uint8Array, index = 0): { address: string, port: number } {
  return decodeAt(addrs, index * ADDR_BYTES)
}

function decodeAt (addrs: Uint8Array, at: number): { address: string, port: number } {
  const port = (addrs[at + 2]! << 8) | addrs[at + 3]!
  return { address: ipText(addrs, at + 4, addrs[at] === 4 ? 4 : 6), port }
}

export interface UdpOptions {
  /** Local address, IPv4 or IPv6 ('0.0.0.0', '::'). */
  address: string
  /** 0 or absent: the kernel picks a port. */
  port?: number
  /** Datagrams per read batch (default 64). */
  batchPackets?: number
  /** Bytes per arena slot, the largest datagram received whole (default 2048; ignored with `coalesce`). */
  slotBytes?: number
  /**
   * Read with UDP_GRO: the kernel may hand over many datagrams of one size in one read (from a
   * peer sending with UDP_SEGMENT, or a NIC's GRO). The arena is then `batchPackets` receive
   * buffers of 64 KiB and datagram i of a batch is at `offsets[i]`; use offsets, not slots.
   */
  coalesce?: boolean
  onBatch?: (count: number) => void
}

/** A coalesced read buffer (the largest message UDP_GRO hands over), and the most datagrams one holds. */
const GRO_BUFFER_BYTES = 65536
const GRO_MAX_SEGMENTS = 128

export class UdpSocket {
  readonly fd: number
  readonly port: number
  readonly slotBytes: number
  /** Datagram i of a batch is arena[offsets[i], + lengths[i]), from peer slot i of addrs. */
  readonly arena: Uint8Array
  readonly lengths: Uint32Array
  /** Where datagram i starts in the arena (i * slotBytes unless `coalesce`). */
  readonly offsets: Uint32Array
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
    const coalesce = options.coalesce === true
    this.slotBytes = coalesce ? GRO_BUFFER_BYTES : options.slotBytes ?? 2048
    const buffers = options.batchPackets ?? 64
    const packets = coalesce ? buffers * GRO_MAX_SEGMENTS : buffers
    this.arena = new Uint8Array(this.slotBytes * buffers)
    this.lengths = new Uint32Array(packets)
    this.offsets = new Uint32Array(packets)
    for (let i = 0; i < packets && !coalesce; i++) this.offsets[i] = i * this.slotBytes
    this.addrs = new Uint8Array(ADDR_BYTES * packets)
    this.handler = options.onBatch ?? (() => {})
    this.io = coalesce
      ? native.ioOpen(fd, this.arena, this.slotBytes, this.lengths, this.statsArray, (count) => this.handler(count), this.addrs, this.offsets)
      : native.ioOpen(fd, this.arena, this.slotBytes, this.lengths, this.statsArray, (count) => this.handler(count), this.addrs)
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

  /**
   * Sends `count` datagrams in the slot layout with one sendmmsg per 64 messages; returns how many
   * went. Runs of equal-sized datagrams to one address go as one UDP_SEGMENT message when the
   * kernel can (one trip through the stack for up to 64 datagrams); the peer sees plain datagrams.
   */
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
