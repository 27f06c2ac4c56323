/**
 * TAI64N-style 12-byte timestamps that only ever increase within a process: the wall clock is
 * read once at start and advanced by the monotonic clock, so stepping the system clock cannot
 * make a client's next handshake look older than its last one. Responders compare them per
 * client id, so peers' clocks never need to agree.
 */
import type { Clock } from '../clock.js'

export const TIMESTAMP_BYTES = 12
const TAI64_EPOCH = 2n ** 62n
/** TAI is 37 s ahead of UTC since 2017; only ordering matters here, but keep the label honest. */
const TAI_MINUS_UTC_S = 37n

export class MonotonicTimestamps {
  private readonly startWallNs: bigint
  private readonly startMonoMs: number
  private lastNs = 0n

  constructor (private readonly clock: Clock, wallClockMs: number) {
    this.startWallNs = BigInt(Math.floor(wallClockMs)) * 1_000_000n
    this.startMonoMs = clock.now()
  }

  /** A timestamp strictly greater than every one returned before. */
  next (): Buffer {
    let ns = this.startWallNs + BigInt(Math.floor((this.clock.now() - this.startMonoMs) * 1e6))
    if (ns <= this.lastNs) ns = this.lastNs + 1n
    this.lastNs = ns
    const out = Buffer.alloc(TIMESTAMP_BYTES)
    out.writeBigUInt64BE(TAI64_EPOCH + TAI_MINUS_UTC_S + ns / 1_000_000_000n, 0)
    out.writeUInt32BE(Number(ns % 1_000_000_000n), 8)
    return out
  }
}

/** Big-endian byte order is chronological order. */
export function isNewerTimestamp (candidate: Uint8Array, last: Uint8Array): boolean {
  return Buffer.compare(candidate, last) > 0
}
