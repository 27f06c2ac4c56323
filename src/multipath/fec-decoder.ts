import { FEC_MAX_GROUP, type ParityUnit } from './fec-encoder.js'

/** A packet a parity rebuilt: its per-path sequence and bytes (a view valid until the decoder's next call). */
export interface RebuiltUnit {
  seq: number
  bytes: Uint8Array
}

/** Our choice: a path that sent no parity for this long has FEC off (its gaps are nacked at once again). */
const FEC_ACTIVE_MS = 1000
/** Our choice: the longest a gap's nack waits for a parity that could rebuild it. */
export const FEC_MAX_NACK_DELAY_MS = 30

interface PendingParity {
  firstSeq: number
  count: number
  lengthXor: number
  length: number
  readonly bytes: Uint8Array
}

/**
 * Receiver side, one per path: keeps the last `windowPackets` packets of the path by per-path
 * sequence and the parities that could not be used yet; rebuilds a group's single missing member
 * as soon as the parity and every other member are in. Two or more missing are left to the nack
 * repair. Pure: no clock read; the caller passes `nowMs`.
 */
export class FecDecoder {
  readonly stats = { parities: 0, rebuilt: 0, /** Parities given up with two or more members missing. */ unrecoverable: 0, invalid: 0 }
  private readonly mask: number
  private readonly seqs: Float64Array
  private readonly lengths: Int32Array
  private readonly arrivalMs: Float64Array
  private readonly data: Uint8Array
  private readonly pending: PendingParity[] = []
  private readonly scratch: Uint8Array
  private highestSeq = -1
  private lastParityMs = -Infinity
  // Parity lag: from its group's first member's arrival to the parity's (mean and mean deviation).
  private lagMeanMs = 0
  private lagDevMs = 0
  private lags = 0
  /** After onParity: members of that group still missing (>= 2: rebuilding needs a repair first, nack them now). */
  lastMissing = 0

  constructor (readonly windowPackets = 1024, readonly maxPayloadBytes = 2048, readonly maxPendingParities = 16) {
    if ((windowPackets & (windowPackets - 1)) !== 0 || windowPackets < FEC_MAX_GROUP) throw new RangeError(`FEC window must be a power of two >= ${FEC_MAX_GROUP}, got ${windowPackets}`)
    this.mask = windowPackets - 1
    this.seqs = new Float64Array(windowPackets).fill(-1)
    this.lengths = new Int32Array(windowPackets)
    this.arrivalMs = new Float64Array(windowPackets)
    this.data = new Uint8Array(windowPackets * maxPayloadBytes)
    this.scratch = new Uint8Array(maxPayloadBytes)
    for (let i = 0; i < maxPendingParities; i++) {
      this.pending.push({ firstSeq: -1, count: 0, lengthXor: 0, length: 0, bytes: new Uint8Array(maxPayloadBytes) })
    }
  }

  /**
   * How long a receiver should hold the nack of a new gap on this path for a parity to rebuild
   * it: about the time a parity arrives after its group's first member (a loss at a group's
   * start waits for the whole group), 0 when the peer sends no parity on this path. A parity
   * that finds two or more missing ends the wait early (see lastMissing). `maxMs` caps it: a
   * caller whose repairs arrive sooner than a parity does waits less.
   */
  nackDelayMs (nowMs: number, maxMs = FEC_MAX_NACK_DELAY_MS): number {
    if (!this.isActive(nowMs) || this.lags === 0) return 0
    return Math.min(maxMs, FEC_MAX_NACK_DELAY_MS, this.lagMeanMs + 4 * this.lagDevMs + 1)
  }

  /** Whether the peer protects this path with parity now (its sender measured loss on it). */
  isActive (nowMs: number): boolean {
    return nowMs - this.lastParityMs <= FEC_ACTIVE_MS
  }

  /** A packet (data or probe: anything with a per-path sequence but a parity) arrived on the path. */
  onPacket (seq: number, payload: Uint8Array, nowMs: number): RebuiltUnit | undefined {
    if (!this.store(seq, payload, nowMs)) return undefined
    for (const p of this.pending) {
      if (p.count > 0 && seq >= p.firstSeq && seq < p.firstSeq + p.count) return this.tryRebuild(p)
    }
    return undefined
  }

  /** A parity arrived on the path. */
  onParity (parity: ParityUnit, nowMs: number): RebuiltUnit | undefined {
    const { firstSeq, count, lengthXor, bytes } = parity
    if (!Number.isSafeInteger(firstSeq) || firstSeq < 0 || !Number.isInteger(count) || count < 1 || count > FEC_MAX_GROUP ||
      bytes.length > this.maxPayloadBytes || !Number.isInteger(lengthXor) || lengthXor < 0) {
      this.stats.invalid++
      return undefined
    }
    this.stats.parities++
    this.lastParityMs = nowMs
    this.lastMissing = 0
    if (firstSeq + count <= this.highestSeq - this.mask) return undefined // its members are out of the window
    if (this.has(firstSeq)) this.addLag(nowMs - this.arrivalMs[firstSeq & this.mask]!)
    const slot = this.freeSlot()
    slot.firstSeq = firstSeq
    slot.count = count
    slot.lengthXor = lengthXor
    slot.length = bytes.length
    slot.bytes.set(bytes)
    return this.tryRebuild(slot)
  }

  private addLag (lagMs: number): void {
    if (!(lagMs >= 0)) return
    if (this.lags === 0) { this.lagMeanMs = lagMs; this.lagDevMs = lagMs / 2 } else {
      this.lagDevMs += (Math.abs(lagMs - this.lagMeanMs) - this.lagDevMs) / 4
      this.lagMeanMs += (lagMs - this.lagMeanMs) / 8
    }
    this.lags++
  }

  /** Stores a member; false if it was already there (a duplicate, or rebuilt before it came). */
  private store (seq: number, payload: Uint8Array, nowMs: number): boolean {
    if (!Number.isSafeInteger(seq) || seq < 0 || payload.length > this.maxPayloadBytes) return false
    if (seq <= this.highestSeq - this.mask) return false // older than the window
    const i = seq & this.mask
    if (this.seqs[i] === seq) return false
    this.seqs[i] = seq
    this.lengths[i] = payload.length
    this.arrivalMs[i] = nowMs
    this.data.set(payload, i * this.maxPayloadBytes)
    if (seq > this.highestSeq) {
      this.highestSeq = seq
      this.dropStale()
    }
    return true
  }

  private has (seq: number): boolean {
    return seq > this.highestSeq - this.mask && this.seqs[seq & this.mask] === seq
  }

  /** Rebuilds `p`'s missing member if it is the only one; frees `p` once nothing is left to do. */
  private tryRebuild (p: PendingParity): RebuiltUnit | undefined {
    let missing = -1
    for (let seq = p.firstSeq; seq < p.firstSeq + p.count; seq++) {
      if (this.has(seq)) continue
      if (missing >= 0) { this.lastMissing = this.countMissing(p); return undefined } // two or more: wait (a late one may still come)
      missing = seq
    }
    if (missing < 0) { p.count = 0; return undefined } // complete: the parity is not needed
    const out = this.scratch
    out.set(p.bytes.subarray(0, p.length))
    let length = p.lengthXor
    for (let seq = p.firstSeq; seq < p.firstSeq + p.count; seq++) {
      if (seq === missing) continue
      const i = seq & this.mask
      const n = this.lengths[i]!
      const base = i * this.maxPayloadBytes
      for (let j = 0; j < n; j++) out[j]! ^= this.data[base + j]!
      length ^= n
    }
    p.count = 0
    // A length the parity cannot hold means a corrupt parity or a member that was not the one sent.
    if (length > p.length) { this.stats.invalid++; return undefined }
    this.stats.rebuilt++
    const bytes = out.subarray(0, length)
    this.store(missing, bytes, NaN)
    return { seq: missing, bytes }
  }

  private countMissing (p: PendingParity): number {
    let n = 0
    for (let seq = p.firstSeq; seq < p.firstSeq + p.count; seq++) if (!this.has(seq)) n++
    return n
  }

  /** A free pending slot; when all are taken, the oldest group is given up. */
  private freeSlot (): PendingParity {
    let oldest = this.pending[0]!
    for (const p of this.pending) {
      if (p.count === 0) return p
      if (p.firstSeq < oldest.firstSeq) oldest = p
    }
    this.stats.unrecoverable++
    return oldest
  }

  /** Parities whose members left the window can never be used. */
  private dropStale (): void {
    const floor = this.highestSeq - this.mask
    for (const p of this.pending) {
      if (p.count > 0 && p.firstSeq <= floor) { p.count = 0; this.stats.unrecoverable++ }
    }
  }
}
