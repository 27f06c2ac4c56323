/**
 * The crypto benchmark behind `gst bench` (glorytun's `bench`, for our cipher and handshake):
 * AEAD throughput through the path the tunnels use (`AeadKey.sealRange`/`openRange`, in place,
 * a 14-byte sealed header as associated data), and full NNpsk0 handshakes per second.
 *
 * Pure measurement: the clock is an argument (`nowMs`), so a fake clock drives the loops in tests
 * and nothing here reads the time by itself. One core, wall time.
 */
import { randomFillSync } from 'node:crypto'
import { AeadKey, TAG_BYTES } from './aead.js'
import { HandshakeInitiator, acceptHandshake, wipeSecrets } from './handshake.js'

/** Plaintext sizes measured: glorytun's small packets up to Ethernet frames, and a 64 KiB record. */
export const BENCH_PACKET_SIZES: readonly number[] = [20, 64, 256, 512, 1024, 1280, 1420, 1500, 65536]

/** The sealed header both tunnels authenticate as associated data (src/pipe/record.ts, src/vpn/wire.ts). */
export const BENCH_AD_BYTES = 14

/** Our choice: about this much packet data per batch of pre-sealed packets for the open rows. */
const OPEN_RING_BYTES = 256 * 1024
/** Our choice: grow a batch until one batch takes at least this long, so clock reads cost nothing. */
const MIN_BATCH_MS = 5
const BENCH_PROLOGUE = Buffer.from('gst bench')

/** Milliseconds from any fixed origin, e.g. `performance.now`. */
export type ClockMs = () => number

export interface Rate {
  /** Operations done (packets or handshakes). */
  count: number
  /** Time they took, in milliseconds (only the timed part). */
  elapsedMs: number
}

export interface AeadRow {
  bytes: number
  seal: AeadFigures
  open: AeadFigures
}

export interface AeadFigures {
  packets: number
  /** Plaintext megabytes (10^6 bytes) per second. */
  mbPerSec: number
  nsPerPacket: number
}

export interface HandshakeFigures {
  handshakes: number
  perSec: number
  usPerHandshake: number
}

/**
 * Calls `batch(n)` (which does n operations) with growing n until at least `targetMs` of timed
 * work is done; only the `batch` calls are timed, so `untimed` work between batches (refilling a
 * ring of sealed packets) is not counted. Always does at least one operation.
 */
export function measureRate (targetMs: number, nowMs: ClockMs, batch: (n: number) => void, untimed?: (n: number) => void, maxBatch = 2 ** 20): Rate {
  let n = 1
  let count = 0
  let elapsedMs = 0
  do {
    untimed?.(n)
    const start = nowMs()
    batch(n)
    const spent = nowMs() - start
    count += n
    elapsedMs += spent
    if (spent < MIN_BATCH_MS && n < maxBatch) n = Math.min(maxBatch, n * 2)
  } while (elapsedMs < targetMs)
  return { count, elapsedMs }
}

export function aeadFigures (bytes: number, rate: Rate): AeadFigures {
  const seconds = rate.elapsedMs / 1000
  return {
    packets: rate.count,
    mbPerSec: seconds > 0 ? (bytes * rate.count) / seconds / 1e6 : Infinity,
    nsPerPacket: (rate.elapsedMs * 1e6) / rate.count,
  }
}

export function handshakeFigures (rate: Rate): HandshakeFigures {
  return {
    handshakes: rate.count,
    perSec: rate.elapsedMs > 0 ? rate.count / (rate.elapsedMs / 1000) : Infinity,
    usPerHandshake: (rate.elapsedMs * 1000) / rate.count,
  }
}

/** Seals and opens `bytes`-byte packets with `sealRange`/`openRange` for about `secondsPerRow` each. */
export function benchAead (bytes: number, secondsPerRow: number, nowMs: ClockMs): AeadRow {
  const key = Buffer.alloc(32)
  randomFillSync(key)
  const aead = new AeadKey(key)
  key.fill(0)
  const slotBytes = BENCH_AD_BYTES + bytes + TAG_BYTES
  const textEnd = BENCH_AD_BYTES + bytes
  const targetMs = secondsPerRow * 1000
  try {
    // Seal: one packet sealed in place again and again, fresh counter each time (as a sender does).
    const packet = Buffer.alloc(slotBytes)
    randomFillSync(packet)
    let counter = 0
    const seal = measureRate(targetMs, nowMs, (n) => {
      for (let i = 0; i < n; i++) aead.sealRange(packet, 0, BENCH_AD_BYTES, textEnd, counter++)
    })

    // Open: a packet opened in place is plaintext afterwards, so each timed batch opens a ring of
    // packets sealed just before it (untimed); batches never outgrow the ring (maxBatch).
    const ringSlots = Math.max(16, Math.min(4096, Math.ceil(OPEN_RING_BYTES / slotBytes)))
    const ring = Buffer.alloc(ringSlots * slotBytes)
    randomFillSync(ring)
    const counters = new Float64Array(ringSlots)
    let failures = 0
    const open = measureRate(targetMs, nowMs, (n) => {
      for (let i = 0; i < n; i++) {
        const at = i * slotBytes
        if (!aead.openRange(ring, at, at + BENCH_AD_BYTES, at + textEnd, counters[i]!)) failures++
      }
    }, (n) => {
      for (let s = 0; s < n; s++) {
        const at = s * slotBytes
        counters[s] = counter
        aead.sealRange(ring, at, at + BENCH_AD_BYTES, at + textEnd, counter++)
      }
    }, ringSlots)
    if (failures !== 0) throw new Error(`bench: ${failures} of ${open.count} sealed packets failed to open`)
    return { bytes, seal: aeadFigures(bytes, seal), open: aeadFigures(bytes, open) }
  } finally {
    aead.wipe()
  }
}

/** One complete NNpsk0 handshake, both sides in this process; returns false if it did not complete. */
export function fullHandshake (psk: Uint8Array, payload: Uint8Array): boolean {
  const initiator = new HandshakeInitiator(psk, BENCH_PROLOGUE, payload)
  const response = acceptHandshake([psk], BENCH_PROLOGUE, initiator.message1)
  if (response === null) return false
  const { message2, secrets } = response.reply(payload)
  const done = initiator.finish(message2)
  wipeSecrets(secrets)
  if (done === null) return false
  wipeSecrets(done.secrets)
  return true
}

/** Full handshakes (initiator and responder, one core) for about `seconds`. */
export function benchHandshake (seconds: number, nowMs: ClockMs): HandshakeFigures {
  const psk = Buffer.alloc(32)
  randomFillSync(psk)
  const payload = Buffer.alloc(32)
  let failures = 0
  const rate = measureRate(seconds * 1000, nowMs, (n) => {
    for (let i = 0; i < n; i++) if (!fullHandshake(psk, payload)) failures++
  })
  psk.fill(0)
  if (failures !== 0) throw new Error(`bench: ${failures} of ${rate.count} handshakes failed`)
  return handshakeFigures(rate)
}
