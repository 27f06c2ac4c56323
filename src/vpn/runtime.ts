/** Applying runtime changes (`gst path`, `gst set`) to a peer's paths. */
import type { Peer } from './peer.js'
import { describePathChange, type PathChange } from '../multipath/index.js'
import { UsageError } from '../errors.js'

export type { PathChange }

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
  return `path ${path.name}: ${describePathChange(change)}`
}
