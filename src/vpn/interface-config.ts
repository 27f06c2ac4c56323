/**
 * Interface settings the native addon does not cover, applied with iproute2 (`ip`), which the
 * VPN needs anyway for routes.
 */
import { execFileSync } from 'node:child_process'
import { TunDevice } from '../native/index.js'

/** Our choice: 4096 packets (the kernel's tun default is 500), so a TCP burst from the host is queued, not dropped, while the reader catches up. */
export const DEFAULT_TUN_QUEUE_PACKETS = 4096

export function setTxQueueLength (device: string, packets: number): void {
  execFileSync('ip', ['link', 'set', 'dev', device, 'txqueuelen', String(packets)], { stdio: ['ignore', 'ignore', 'pipe'] })
}

export function addRoute (device: string, prefix: string): void {
  execFileSync('ip', ['route', 'replace', prefix, 'dev', device], { stdio: ['ignore', 'ignore', 'pipe'] })
}

/** Opens the VPN's TUN device, configured, with a queue long enough for bursts. */
export function openTun (options: { name?: string, addresses?: string[] }, mtuBytes: number, onBatch: (count: number) => void): TunDevice {
  const tun = TunDevice.open({
    ...(options.name !== undefined ? { name: options.name } : {}),
    mtuBytes,
    addresses: options.addresses ?? [],
    onBatch,
    // TSO/GRO between the host's TCP and us: one super-packet per syscall instead of one per segment.
    offload: true,
  })
  try {
    setTxQueueLength(tun.name, DEFAULT_TUN_QUEUE_PACKETS)
  } catch (err) {
    tun.close()
    throw err
  }
  return tun
}
