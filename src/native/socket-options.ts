// Socket options Node does not expose, set on the fd of an existing net.Socket or dgram.Socket.
import type { Socket as TcpSocket } from 'node:net'
import type { Socket as UdpSocket } from 'node:dgram'
import { loadAddon } from './addon.js'
import { NativeError, rethrowNative } from './native-error.js'

export type SocketLike = number | TcpSocket | UdpSocket

/** Path MTU discovery modes (IP_PMTUDISC_*): `do` sets DF and refuses oversize sends,
 * `probe` sets DF but ignores the kernel's PMTU cache (for in-band probing). */
export const MTU_DISCOVERY = { dont: 0, want: 1, do: 2, probe: 3 } as const
export type MtuDiscovery = keyof typeof MTU_DISCOVERY

/** The TCP_INFO fields we read, in the order readTcpInfo fills them (native/sockopt.c). */
export const TCP_INFO_FIELDS = [
  'state', 'caState', 'rttUs', 'rttVarUs', 'minRttUs',
  'rtoUs', 'sndMssBytes', 'pmtuBytes', 'sndCwndPkts',
  'sndSsthreshPkts', 'unackedPkts', 'lostPkts', 'retransPkts',
  'totalRetransPkts', 'notsentBytes', 'deliveryRateBytesPerSec',
  'pacingRateBytesPerSec', 'bytesAcked', 'bytesSent',
  'bytesRetrans', 'deliveredPkts', 'busyTimeUs',
  'sndBufLimitedUs', 'rwndLimitedUs',
] as const
export type TcpInfoField = typeof TCP_INFO_FIELDS[number]
export type TcpInfo = Record<TcpInfoField, number>
/** Index of each field in a readTcpInfo array. */
export const TCP_INFO_INDEX = Object.fromEntries(TCP_INFO_FIELDS.map((f, i) => [f, i])) as Record<TcpInfoField, number>

/** The OS fd behind a socket: `_handle.fd` for net.Socket, the handle in dgram's state for UDP. */
export function socketFd (socket: SocketLike): number {
  if (typeof socket === 'number') return socket
  const state = Object.getOwnPropertySymbols(socket).find((s) => s.description === 'state symbol')
  const handle = state ? (socket as unknown as Record<symbol, { handle?: { fd?: number } }>)[state]?.handle : (socket as unknown as { _handle?: { fd?: number } })._handle
  const fd = handle?.fd
  if (typeof fd !== 'number' || fd < 0) throw new NativeError('socket has no file descriptor yet (bind or connect it first)', 'EBADF')
  return fd
}

function call<T> (fn: () => T): T {
  try {
    return fn()
  } catch (error) {
    rethrowNative(error)
  }
}

export function setMtuDiscover (socket: SocketLike, mode: MtuDiscovery): void {
  call(() => loadAddon().setMtuDiscover(socketFd(socket), MTU_DISCOVERY[mode]))
}

/** The kernel's current path MTU towards a connected socket's peer. */
export function getPathMtu (socket: SocketLike): number {
  return call(() => loadAddon().getPathMtu(socketFd(socket)))
}

/** SO_MARK (fwmark, for policy routing); needs CAP_NET_ADMIN. */
export function setMark (socket: SocketLike, mark: number): void {
  call(() => loadAddon().setMark(socketFd(socket), mark))
}

/** SO_BINDTODEVICE; '' removes the binding. */
export function bindToDevice (socket: SocketLike, device: string): void {
  call(() => loadAddon().bindToDevice(socketFd(socket), device))
}

/** The socket's receive or send buffer; privileged callers may exceed net.core.[rw]mem_max.
 * Returns the size the kernel reports (twice the request: it counts its bookkeeping). */
export function setBufferSize (socket: SocketLike, direction: 'receive' | 'send', bytes: number): number {
  return call(() => loadAddon().setBufferSize(socketFd(socket), direction === 'receive', bytes))
}

/** TCP_NOTSENT_LOWAT: writable only while fewer than `bytes` wait unsent in the kernel. */
export function setNotsentLowat (socket: SocketLike, bytes: number): void {
  call(() => loadAddon().setNotsentLowat(socketFd(socket), bytes))
}

/** TCP_CONGESTION: the algorithm this TCP socket uses from now on (e.g. 'cubic'). */
export function setCongestionControl (socket: SocketLike, name: string): void {
  call(() => loadAddon().setCongestionControl(socketFd(socket), name))
}

/** The TCP congestion control algorithm the socket uses. */
export function getCongestionControl (socket: SocketLike): string {
  return call(() => loadAddon().getCongestionControl(socketFd(socket)))
}

/** TCP_INFO as a plain object (allocates; for status and tests). */
export function getTcpInfo (socket: SocketLike): TcpInfo {
  return call(() => loadAddon().getTcpInfo(socketFd(socket))) as TcpInfo
}

/** TCP_INFO into `out` (index with TCP_INFO_INDEX); no allocation, for a scheduler's hot path. */
export function readTcpInfo (socket: SocketLike, out = new Float64Array(TCP_INFO_FIELDS.length)): Float64Array {
  call(() => loadAddon().getTcpInfo(socketFd(socket), out))
  return out
}
