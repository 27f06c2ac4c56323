/** A runtime change of one path (`gst path NAME N set ...`), the same for both modes. */
import type { PathPreference } from './path.js'

export interface PathChange {
  /** true: administratively down (no traffic); false: back in use. */
  down?: boolean
  preference?: PathPreference
  /** 0 removes the cap. */
  rateBitsPerSec?: number
  weight?: number
}

/** The change in the words of the command line, e.g. `down backup rate=20000000bit/s`. */
export function describePathChange (change: PathChange): string {
  const parts: string[] = []
  if (change.down !== undefined) parts.push(change.down ? 'down' : 'up')
  if (change.preference !== undefined) parts.push(change.preference)
  if (change.rateBitsPerSec !== undefined) parts.push(change.rateBitsPerSec === 0 ? 'rate=unlimited' : `rate=${change.rateBitsPerSec}bit/s`)
  if (change.weight !== undefined) parts.push(`weight=${change.weight}`)
  return parts.join(' ')
}
