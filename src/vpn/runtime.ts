/** Applying runtime changes (`gst path`, `gst set`) to a peer's paths. */
import type { Peer } from './peer.js'
import type { PathPreference } from '../multipath/index.js'
import { UsageError } from '../errors.js'

/** One path's runtime change (the control socket's `path` arguments). */
export interface PathChange {
  /** true: administratively down (no traffic); false: back in use once its probes are answered. */
  down?: boolean
  preference?: PathPreference
  /** 0 removes the cap. */
  rateBitsPerSec?: number
  weight?: number
}

/**
 * Applies `change` to path `id` of `peer` at once (the scheduler sees it on its next choice);
 * throws a UsageError for an unknown path. Returns a description of what was done.
 */
export function applyPathChange (peer: Peer, id: number, change: PathChange, nowMs: number): string {
  const path = peer.path(id)
  if (path === undefined) throw new UsageError(`no path ${id} (see gst show)`)
  if (change.preference !== undefined) path.preference = change.preference
  if (change.rateBitsPerSec !== undefined) path.txCapBitsPerSec = change.rateBitsPerSec
  if (change.weight !== undefined) path.weight = change.weight
  // The rest is picked up by the peer's next tick (a few ms): state for backup, pacer rate for the cap.
  if (change.down !== undefined) peer.setPathAdminDown(id, change.down, nowMs)
  const parts: string[] = []
  if (change.down !== undefined) parts.push(change.down ? 'down' : 'up')
  if (change.preference !== undefined) parts.push(change.preference)
  if (change.rateBitsPerSec !== undefined) parts.push(change.rateBitsPerSec === 0 ? 'rate=unlimited' : `rate=${change.rateBitsPerSec}bit/s`)
  if (change.weight !== undefined) parts.push(`weight=${change.weight}`)
  return `path ${path.name}: ${parts.join(' ')}`
}
