/** Pure parsers for ttt's arguments (unit-tested): --path specs, rates, prefixes. */
import { isIP } from 'node:net'
import { UsageError } from '../src/errors.js'
import type { ClientPathOptions } from '../src/vpn/client.js'
import type { EqualDelayScope } from '../src/vpn/peer.js'
import type { SchedulerKind } from '../src/multipath/index.js'
import { parsePrefix, prefixesOverlap } from '../src/vpn/inner-address.js'

/** `20mbit`, `1.5gbit`, `800kbit`, `20000000` (bits per second). */
export function parseRate (text: string, what: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(bit|kbit|mbit|gbit)?(?:\/s|ps)?$/i.exec(text.trim())
  if (!m) throw new UsageError(`${what}: "${text}" is not a rate such as 20mbit, 800kbit or 1gbit`)
  const scale = { bit: 1, kbit: 1e3, mbit: 1e6, gbit: 1e9 }[(m[2] ?? 'bit').toLowerCase() as 'bit']
  const rate = Math.round(Number(m[1]) * scale)
  if (!Number.isFinite(rate) || rate > 1e12) throw new UsageError(`${what}: "${text}" is more than 1000gbit`)
  return rate
}

/** Linux interface names: 1-15 bytes, no '/', ',', '=', or whitespace. */
const DEVICE_NAME = /^[^/\s,=]{1,15}$/

/**
 * `--path ADDR|dev=IFNAME[,dev=IFNAME][,mark=N][,backup][,rate=20mbit][,weight=3]`. A path named
 * only by its device binds to `wildcard` (the server's family) and leaves through that device
 * whatever its address (a DHCP or 4G link whose address changes).
 */
export function parsePathSpec (text: string, wildcard = '0.0.0.0'): ClientPathOptions {
  const [first = '', ...options] = text.split(',').map((s) => s.trim())
  const startsWithDevice = first.startsWith('dev=')
  if (!startsWithDevice && isIP(first) === 0) throw new UsageError(`--path "${text}": "${first}" is not a local IP address (or dev=IFNAME)`)
  const path: ClientPathOptions = { localAddress: startsWithDevice ? wildcard : first }
  for (const option of startsWithDevice ? [first, ...options] : options) {
    const [name, value] = option.split('=')
    if (name === 'backup' && value === undefined) path.preference = 'backup'
    else if (name === 'primary' && value === undefined) path.preference = 'primary'
    else if (name === 'rate' && value !== undefined) path.txCapBitsPerSec = parseRate(value, `--path ${first} rate`)
    else if (name === 'weight' && value !== undefined) {
      const weight = Number(value)
      if (!(weight > 0) || !Number.isFinite(weight)) throw new UsageError(`--path ${first}: weight must be a number above 0 (got "${value}")`)
      path.weight = weight
    } else if (name === 'dev' && value !== undefined) {
      if (!DEVICE_NAME.test(value)) throw new UsageError(`--path ${first}: "${value}" is not an interface name (1-15 characters)`)
      if (path.device !== undefined) throw new UsageError(`--path ${first}: dev= given twice`)
      path.device = value
    } else if (name === 'mark' && value !== undefined) {
      const mark = /^(0x[0-9a-f]+|\d+)$/i.test(value) ? Number(value) : NaN
      if (!Number.isInteger(mark) || mark < 1 || mark > 0xffffffff) throw new UsageError(`--path ${first}: mark must be a number from 1 to 4294967295 (got "${value}")`)
      path.mark = mark
    } else throw new UsageError(`--path ${first}: unknown option "${option}" (use dev=IFNAME, mark=N, backup, rate=20mbit or weight=N)`)
  }
  return path
}

/** Paths must differ: two sockets with the same address and device would be one path twice. */
export function checkPaths (paths: readonly ClientPathOptions[]): void {
  const seen = new Set<string>()
  for (const p of paths) {
    const key = `${p.localAddress}%${p.device ?? ''}`
    if (seen.has(key)) throw new UsageError(`--path ${p.device !== undefined ? `dev=${p.device}` : p.localAddress} is given twice`)
    seen.add(key)
  }
}

export function parseScheduler (text: unknown): SchedulerKind {
  const value = String(text ?? 'auto')
  if (value === 'auto' || value === 'weighted' || value === 'redundant') return value
  throw new UsageError(`--scheduler must be auto, weighted or redundant (got "${value}")`)
}

/**
 * `--equal-delay [tcp|all]`: off when absent or false; the bare flag (or `true` in a config file)
 * holds TCP only, the usual need (a TCP sender's window), so pings and voice keep their delay.
 */
export function parseEqualDelay (value: unknown): EqualDelayScope | undefined {
  if (value === undefined || value === false) return undefined
  if (value === true) return 'tcp'
  if (value === 'tcp' || value === 'all') return value
  throw new UsageError(`--equal-delay takes tcp or all, or nothing for tcp (got "${String(value)}")`)
}

/** `ADDR/BITS`, IPv4 or IPv6. */
export function parseCidr (text: string, what: string): string {
  const [address = '', bits] = text.split('/')
  const family = isIP(address)
  const max = family === 4 ? 32 : 128
  if (family === 0 || bits === undefined || !/^\d+$/.test(bits) || Number(bits) > max) {
    throw new UsageError(`${what} "${text}" is not ADDRESS/PREFIX (e.g. 10.9.0.2/24 or fd00::2/64)`)
  }
  return text
}

export function asList (value: unknown): string[] {
  if (value === undefined) return []
  return (Array.isArray(value) ? value : [value]).map(String)
}

export function parseMtu (value: unknown): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 576 || n > 9000) throw new UsageError(`--mtu must be a whole number from 576 to 9000 (got "${String(value)}")`)
  return n
}

/** One client of a ttt server: its name, where its key comes from, the inner prefixes it owns. */
export interface PeerSpec {
  name: string
  /** A key source as for --key: @FILE, env:NAME or the key itself. */
  keySpec: string
  allowedIps: string[]
}

const PEER_USAGE = 'NAME,key=@FILE[,allowed=10.9.0.2/32]...'

/** `--peer NAME,key=@FILE[,allowed=PREFIX]...` (allowed repeatable; none: addresses are learned). */
export function parsePeerSpec (text: string): PeerSpec {
  const [name = '', ...options] = text.split(',').map((s) => s.trim())
  if (!/^[A-Za-z0-9_.-]{1,32}$/.test(name)) throw new UsageError(`--peer "${text}": the name must be 1-32 letters, digits, '.', '_' or '-' (${PEER_USAGE})`)
  let keySpec: string | undefined
  const allowedIps: string[] = []
  for (const option of options) {
    const at = option.indexOf('=')
    const field = at < 0 ? option : option.slice(0, at)
    const value = at < 0 ? '' : option.slice(at + 1)
    if (field === 'key' && value !== '') {
      if (keySpec !== undefined) throw new UsageError(`--peer ${name}: key= given twice`)
      keySpec = value
    } else if (field === 'allowed' && value !== '') {
      allowedIps.push(parseCidr(value, `--peer ${name} allowed`))
    } else throw new UsageError(`--peer ${name}: unknown option "${option}" (${PEER_USAGE})`)
  }
  if (keySpec === undefined) throw new UsageError(`--peer ${name}: key= is missing (${PEER_USAGE})`)
  return { name, keySpec, allowedIps }
}

/** Peers a server can tell apart: unique names, and no inner address owned by two of them. */
export function checkPeers (peers: readonly PeerSpec[]): void {
  const owners: Array<{ name: string, text: string, prefix: ReturnType<typeof parsePrefix> }> = []
  const names = new Set<string>()
  for (const peer of peers) {
    if (names.has(peer.name)) throw new UsageError(`--peer ${peer.name}: the name is used twice`)
    names.add(peer.name)
    for (const text of peer.allowedIps) {
      const prefix = parsePrefix(text)
      const other = owners.find((o) => prefixesOverlap(o.prefix, prefix))
      if (other !== undefined) throw new UsageError(`--peer ${peer.name} allowed=${text} overlaps ${other.name}'s allowed=${other.text}: each inner address belongs to one peer`)
      owners.push({ name: peer.name, text, prefix })
    }
  }
}
