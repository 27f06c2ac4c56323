// parsePrefix: near-valid IPv4/IPv6 prefixes and random text, checked against a strict reference.
import fc from 'fast-check'
import { isIP } from 'node:net'
import { parsePrefix } from '../../../src/vpn/inner-address.js'
import { nearValidString, onlyThrows, timeBoxed, type FuzzTarget } from '../lib.js'

const v4 = fc.tuple(fc.ipV4(), fc.option(fc.integer({ min: 0, max: 33 }))).map(([a, b]) => b === null ? a : `${a}/${b}`)
const v6 = fc.tuple(fc.ipV6(), fc.option(fc.integer({ min: 0, max: 129 }))).map(([a, b]) => b === null ? a : `${a}/${b}`)

/** What a strict parser accepts: ADDR or ADDR/BITS with BITS plain decimal digits in range. */
export function isStrictPrefix (text: string): boolean {
  const parts = text.trim().split('/')
  if (parts.length > 2) return false
  const family = isIP(parts[0]!)
  if (family === 0 || parts[0]!.includes('%')) return false // a zone id is no part of a prefix
  if (parts.length === 1) return true
  return /^\d{1,3}$/.test(parts[1]!) && Number(parts[1]) <= (family === 4 ? 32 : 128)
}

/**
 * Known, reported bugs (test/unit/fuzz-regressions.test.ts) kept out of the fuzz run so it keeps
 * finding new ones: the bits are read with Number() (so "" is 0, " 8", "0x8", "8.0", "1e1" pass),
 * text after a second "/" is ignored, "::" may appear twice or stand for no group at all, and
 * IPv6 with an embedded IPv4 tail ("::ffff:10.0.0.1") is refused.
 */
/** Was a known bug (lax prefixes); fixed in 3365717, so no input is skipped now. */
export function hitsKnownPrefixBug (_text: string): boolean {
  return false
}

export const innerAddressTarget: FuzzTarget = {
  name: 'inner-address',
  about: 'parsePrefix: only RangeError; accepts exactly what a strict ADDR[/BITS] parser accepts',
  create () {
    const property = fc.property(nearValidString(fc.oneof(v4, v6)), (text) => {
      let parsed: ReturnType<typeof parsePrefix> | undefined
      const outcome = timeBoxed(() => onlyThrows(() => { parsed = parsePrefix(text) }, RangeError))
      if (hitsKnownPrefixBug(text)) return
      const strict = isStrictPrefix(text)
      if (outcome === 'ok' && !strict) throw new Error(`accepted a malformed prefix ${JSON.stringify(text)}`)
      if (outcome === 'refused' && strict) throw new Error(`refused a valid prefix ${JSON.stringify(text)}`)
      if (parsed !== undefined && (parsed.bits < 0 || parsed.bits > (parsed.version === 4 ? 32 : 128))) throw new Error(`bits ${parsed.bits}`)
    })
    return { property }
  },
}
