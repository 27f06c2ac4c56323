/**
 * `gst bench`: AEAD throughput per packet size and the handshake rate on this machine, one core.
 * The measuring is src/crypto/bench.ts; this prints it (a table, or JSON with `--json`).
 */
import { performance } from 'node:perf_hooks'
import { UsageError } from '../src/errors.js'
import { BENCH_AD_BYTES, BENCH_PACKET_SIZES, benchAead, benchHandshake, type AeadRow, type HandshakeFigures } from '../src/crypto/bench.js'
import { PATTERN } from '../src/crypto/handshake.js'
import { isNativeAeadAvailable, nativeAeadVersion } from '../src/native/aead.js'

export const DEFAULT_BENCH_SECONDS = 0.2
const MAX_BENCH_SECONDS = 600

export interface BenchFlags {
  json?: unknown
  seconds?: unknown
}

/** `--seconds N`: seconds per row, a positive number (default 0.2). */
export function parseBenchSeconds (value: unknown): number {
  if (value === undefined) return DEFAULT_BENCH_SECONDS
  const text = value === true ? '' : String(value)
  const seconds = Number(text)
  if (text.trim() === '' || !Number.isFinite(seconds) || seconds <= 0 || seconds > MAX_BENCH_SECONDS) {
    throw new UsageError(`--seconds takes a number of seconds per row, more than 0 and at most ${MAX_BENCH_SECONDS} (got "${text}")`)
  }
  return seconds
}

function aeadImplementation (): string {
  const openssl = nativeAeadVersion()
  return isNativeAeadAvailable() && openssl !== null ? `${openssl} (native addon)` : 'libsodium (sodium-native)'
}

const COLUMNS = ['bytes', 'seal MB/s', 'seal ns/pkt', 'open MB/s', 'open ns/pkt']
const WIDTHS = [7, 11, 12, 11, 12]

function formatRow (cells: string[]): string {
  return cells.map((c, i) => c.padStart(WIDTHS[i]!)).join('  ')
}

function formatAeadRow (row: AeadRow): string {
  // Three significant digits below 100: a row slowed by a stall reads 0.0064, not 0.0.
  const mb = (v: number): string => v >= 100 ? v.toFixed(0) : v.toPrecision(3)
  return formatRow([String(row.bytes), mb(row.seal.mbPerSec), row.seal.nsPerPacket.toFixed(0), mb(row.open.mbPerSec), row.open.nsPerPacket.toFixed(0)])
}

function formatHandshake (h: HandshakeFigures): string {
  return `handshake ${PATTERN} (initiator + responder): ${h.perSec.toFixed(0)} per second, ${h.usPerHandshake.toFixed(0)} µs each`
}

export async function bench (flags: BenchFlags): Promise<void> {
  const seconds = parseBenchSeconds(flags.seconds)
  const json = flags.json === true
  const nowMs = (): number => performance.now()
  const implementation = aeadImplementation()
  if (!json) {
    process.stdout.write(`ChaCha20-Poly1305 through AeadKey.sealRange/openRange, in place, ${BENCH_AD_BYTES}-byte header as AD\n`)
    process.stdout.write(`${implementation}, node ${process.version}, one core, ${seconds} s per measurement; MB = 10^6 bytes of plaintext\n\n`)
    process.stdout.write(formatRow(COLUMNS) + '\n')
  }
  const rows: AeadRow[] = []
  for (const bytes of BENCH_PACKET_SIZES) {
    const row = benchAead(bytes, seconds, nowMs)
    rows.push(row)
    if (!json) process.stdout.write(formatAeadRow(row) + '\n')
  }
  const handshake = benchHandshake(seconds, nowMs)
  if (json) {
    const report = {
      node: process.version,
      secondsPerRow: seconds,
      aead: { cipher: 'chacha20-poly1305', implementation, adBytes: BENCH_AD_BYTES, rows },
      handshake: { pattern: `Noise_${PATTERN}_25519_ChaChaPoly_BLAKE2b`, ...handshake },
    }
    process.stdout.write(JSON.stringify(report, null, 2) + '\n')
  } else {
    process.stdout.write('\n' + formatHandshake(handshake) + '\n')
  }
}
