// Loads build/Release/gst_native.node (built from native/ by `npm install` through node-gyp)
// and declares exactly what it exports. Nothing else in gst touches the addon directly.
import { createRequire } from 'node:module'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NativeError } from './native-error.js'

export interface NativeAddon {
  tunOpen(name: string, multiQueue: boolean, blocking?: boolean, offload?: boolean): { fd: number, name: string, offload: boolean }
  tunClose(fd: number): void
  tunSetMtu(name: string, mtuBytes: number): void
  tunSetUp(name: string, up: boolean): void
  tunAddAddress(name: string, address: string, prefixLen: number): void

  ioOpen(fd: number, arena: Uint8Array, slotBytes: number, lengths: Uint32Array, stats: Float64Array, onBatch: (count: number) => void, addrs?: Uint8Array, offsets?: Uint32Array): IoHandle
  ioClose(handle: IoHandle): void
  ioSetOffload(handle: IoHandle): void
  readStart(handle: IoHandle): void
  readStop(handle: IoHandle): void
  write(handle: IoHandle, packet: Uint8Array, length?: number): boolean
  writeBatch(handle: IoHandle, packets: readonly Uint8Array[], count: number): number
  writeSlots(handle: IoHandle, arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number): number
  sendTo(handle: IoHandle, packet: Uint8Array, length: number, addrs: Uint8Array, addrIndex: number): boolean
  sendSlots(handle: IoHandle, arena: Uint8Array, slotBytes: number, lengths: Uint32Array, addrs: Uint8Array, count: number): number

  udpOpen(address: string, port: number): { fd: number, port: number }

  offloadSplit(packet: Uint8Array, out: Uint8Array, slotBytes: number, lengths: Uint32Array, first: number, max: number): number
  offloadCoalesce(arena: Uint8Array, slotBytes: number, lengths: Uint32Array, count: number, out: Uint8Array, outLengths: Uint32Array): number

  setMtuDiscover(fd: number, mode: number): void
  getPathMtu(fd: number): number
  setMark(fd: number, mark: number): void
  setNotsentLowat(fd: number, bytes: number): void
  setCongestionControl(fd: number, name: string): void
  getCongestionControl(fd: number): string
  bindToDevice(fd: number, name: string): void
  setBufferSize(fd: number, receive: boolean, bytes: number): number
  getTcpInfo(fd: number): Record<string, number>
  getTcpInfo(fd: number, out: Float64Array): undefined
}

/** Opaque native state of one TUN fd's or UDP socket's reader/writer. */
export type IoHandle = { readonly __brand: 'IoHandle' }

/** Where node-gyp puts the addon, seen from the compiled dist/src/native/addon.js. */
export const addonPath = fileURLToPath(new URL('../../../build/Release/gst_native.node', import.meta.url))

let addon: NativeAddon | undefined

export function loadAddon (): NativeAddon {
  if (addon) return addon
  if (!existsSync(addonPath)) {
    throw new NativeError(`couldn't load the native addon: ${addonPath} is missing (run \`npm install\`, which builds it with node-gyp)`, 'ENOENT')
  }
  const newer = sourceNewerThan(addonPath, sourceDir)
  if (newer !== undefined) {
    throw new NativeError(`couldn't load the native addon: ${addonPath} is older than ${newer} (run \`npm rebuild\` to build it from the current sources)`, 'ESTALE')
  }
  addon = createRequire(import.meta.url)(addonPath) as NativeAddon
  return addon
}

/** The addon's C sources, in a checkout (an install without them skips the check). */
const sourceDir = fileURLToPath(new URL('../../../native/', import.meta.url))

/**
 * A C source changed after the addon was built (a pull or a branch switch without `npm rebuild`;
 * `npm run build` compiles only TypeScript): its path, else undefined. An old addon would load and
 * then fail on a missing export or, worse, on a changed calling convention, far from the cause.
 */
export function sourceNewerThan (builtPath: string, sources: string): string | undefined {
  if (!existsSync(sources)) return undefined
  const builtMs = statSync(builtPath).mtimeMs
  for (const name of readdirSync(sources)) {
    if (!/\.[ch]$/.test(name)) continue
    if (statSync(join(sources, name)).mtimeMs > builtMs) return `native/${name}`
  }
  return undefined
}
