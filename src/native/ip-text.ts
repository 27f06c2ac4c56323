/** IP addresses from their bytes to text (pure: no addon). */

/** The address at bytes[at, at + 4) (version 4) or [at, at + 16) (6): dotted, or RFC 5952 (longest zero run of two or more as '::'). */
export function ipText (bytes: Uint8Array, at: number, version: 4 | 6): string {
  if (version === 4) return `${bytes[at]}.${bytes[at + 1]}.${bytes[at + 2]}.${bytes[at + 3]}`
  const groups: number[] = []
  for (let i = 0; i < 8; i++) groups.push((bytes[at + 2 * i]! << 8) | bytes[at + 2 * i + 1]!)
  let best = -1
  let bestLength = 1
  for (let i = 0; i < 8; i++) {
    let j = i
    while (j < 8 && groups[j] === 0) j++
    if (j - i > bestLength) { best = i; bestLength = j - i }
  }
  const hex = (list: number[]): string => list.map((g) => g.toString(16)).join(':')
  return best < 0 ? hex(groups) : `${hex(groups.slice(0, best))}::${hex(groups.slice(best + bestLength))}`
}
