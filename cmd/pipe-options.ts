/** Turns pipe command-line flags into tunables; pure, so it has unit tests of its own. */
import { UsageError } from '../src/errors.js'
import { DEFAULT_TUNABLES, resolveTunables, type PipeTunables } from '../src/pipe/config.js'
import type { PipePathSpec } from '../src/pipe/client.js'
import { asList, parsePathSpec } from './ttt-options.js'

export interface PipeFlags {
  rekey?: unknown
  keepalive?: unknown
  window?: unknown
  maxStreams?: unknown
  sessionBuffer?: unknown
  handshakeTimeout?: unknown
  connectTimeout?: unknown
  maxSessions?: unknown
  handshakeRate?: unknown
  reconnectMax?: unknown
  pathTimeout?: unknown
}

/** Seconds as a positive number (fractions allowed). */
export function parseSeconds (value: unknown, flag: string): number {
  const n = typeof value === 'number' ? value : Number(String(value).replace(/s$/, ''))
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`${flag} takes a number of seconds greater than 0 (got "${String(value)}")`)
  return n
}

/** A byte size: 262144, 256k, 1m, 1g (powers of 1024). */
export function parseBytes (value: unknown, flag: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([kmg]?)i?b?$/i.exec(String(value).trim())
  if (!match) throw new UsageError(`${flag} takes a size such as 262144, 256k or 1m (got "${String(value)}")`)
  const scale = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[match[2]!.toLowerCase() as '' | 'k' | 'm' | 'g']
  return Math.floor(Number(match[1]) * scale)
}

export function parseCount (value: unknown, flag: string): number {
  const n = typeof value === 'number' ? value : Number(value)
  if (!Number.isInteger(n) || n < 1) throw new UsageError(`${flag} takes a whole number of at least 1 (got "${String(value)}")`)
  return n
}

const flagNames: Partial<Record<keyof PipeTunables, string>> = {
  rekeyIntervalMs: '--rekey', keepaliveMs: '--keepalive', streamWindowBytes: '--window', maxStreams: '--max-streams',
  sessionBufferBytes: '--session-buffer',
  handshakeTimeoutMs: '--handshake-timeout', connectTimeoutMs: '--connect-timeout', maxSessions: '--max-sessions',
  handshakesPerSecond: '--handshake-rate', reconnectMaxMs: '--reconnect-max', pathTimeoutMs: '--path-timeout',
}

export function tunablesFromFlags (flags: PipeFlags): PipeTunables {
  const t: Partial<PipeTunables> = {}
  if (flags.rekey !== undefined) t.rekeyIntervalMs = parseSeconds(flags.rekey, '--rekey') * 1000
  if (flags.keepalive !== undefined) t.keepaliveMs = parseSeconds(flags.keepalive, '--keepalive') * 1000
  if (flags.window !== undefined) t.streamWindowBytes = parseBytes(flags.window, '--window')
  if (flags.maxStreams !== undefined) t.maxStreams = parseCount(flags.maxStreams, '--max-streams')
  if (flags.sessionBuffer !== undefined) t.sessionBufferBytes = parseBytes(flags.sessionBuffer, '--session-buffer')
  if (flags.handshakeTimeout !== undefined) t.handshakeTimeoutMs = parseSeconds(flags.handshakeTimeout, '--handshake-timeout') * 1000
  if (flags.connectTimeout !== undefined) t.connectTimeoutMs = parseSeconds(flags.connectTimeout, '--connect-timeout') * 1000
  if (flags.maxSessions !== undefined) t.maxSessions = parseCount(flags.maxSessions, '--max-sessions')
  if (flags.handshakeRate !== undefined) {
    t.handshakesPerSecond = parseSeconds(flags.handshakeRate, '--handshake-rate')
    if (t.handshakesPerSecond > 500_000) throw new UsageError('--handshake-rate must be from 0.01 to 500000')
    t.handshakeBurst = Math.max(1, Math.ceil(t.handshakesPerSecond * 2))
  }
  if (flags.reconnectMax !== undefined) t.reconnectMaxMs = parseSeconds(flags.reconnectMax, '--reconnect-max') * 1000
  if (flags.pathTimeout !== undefined) t.pathTimeoutMs = parseSeconds(flags.pathTimeout, '--path-timeout') * 1000
  try {
    return resolveTunables(t)
  } catch (err) {
    // Name the flag, not the internal field.
    const message = (err as Error).message
    const field = Object.keys(flagNames).find((k) => message.startsWith(k)) as keyof PipeTunables | undefined
    if (field === undefined) throw err
    const [min, max] = /from (\S+) to (\S+)/.exec(message)!.slice(1).map(Number) as [number, number]
    const unit = field.endsWith('Ms') ? 1000 : 1
    throw new UsageError(`${flagNames[field]} must be from ${min / unit} to ${max / unit}${field.endsWith('Ms') ? ' seconds' : ''}`)
  }
}

export const defaults = DEFAULT_TUNABLES

/**
 * `--path ADDR[,backup][,rate=20mbit][,weight=N]`, repeatable: one subflow per path, its socket
 * bound to ADDR. None: one path from whatever address the system picks.
 */
export function parsePipePaths (value: unknown): PipePathSpec[] {
  const paths: PipePathSpec[] = []
  const seen = new Set<string>()
  for (const text of asList(value)) {
    const spec = parsePathSpec(text)
    if (seen.has(spec.localAddress)) throw new UsageError(`--path ${spec.localAddress} is given twice (one subflow per local address)`)
    seen.add(spec.localAddress)
    paths.push({
      localAddress: spec.localAddress,
      ...(spec.preference === 'backup' ? { backup: true } : {}),
      ...(spec.txCapBitsPerSec !== undefined ? { rateBitsPerSec: spec.txCapBitsPerSec } : {}),
      ...(spec.weight !== undefined ? { weight: spec.weight } : {}),
    })
  }
  if (paths.length > 256) throw new UsageError(`--path: at most 256 paths (got ${paths.length})`)
  if (paths.length > 0 && paths.every((p) => p.backup === true)) throw new UsageError('--path: every path is a backup; mark at least one without ",backup"')
  return paths
}
