// Keeping a capability through a change of user (native/caps.c). Used by cmd/privileges.ts for
// `--user`: ttt keeps CAP_NET_ADMIN (TUN MTU changes) and nothing else; the pipe keeps nothing.
import { loadAddon } from './addon.js'
import { rethrowNative } from './native-error.js'

/** Capability numbers from linux/capability.h that gst may keep. */
export const CAPABILITY = { netAdmin: 12 } as const
export type CapabilityName = keyof typeof CAPABILITY

/** What native/caps.c exports (the shared NativeAddon interface lists the rest of the addon). */
interface NativeCapsAddon {
  capsKeepOnSetuid(keep: boolean): void
  capsLimit(capabilities: number[]): void
}

function addon (): NativeCapsAddon {
  return loadAddon() as unknown as NativeCapsAddon
}

/**
 * Sets or clears the calling thread's keep-capabilities flag: while set, a setuid() away from
 * root keeps the permitted set (the effective set is cleared all the same; see limitCapabilities).
 */
export function keepCapabilitiesOnSetuid (keep: boolean): void {
  try {
    addon().capsKeepOnSetuid(keep)
  } catch (err) {
    rethrowNative(err)
  }
}

/** Makes `names` the calling thread's only permitted and effective capabilities (none inheritable). */
export function limitCapabilities (names: readonly CapabilityName[]): void {
  try {
    addon().capsLimit(names.map((n) => CAPABILITY[n]))
  } catch (err) {
    rethrowNative(err)
  }
}
