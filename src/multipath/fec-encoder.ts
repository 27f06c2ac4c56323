/**
 * Forward error correction for a lossy path: one XOR parity per group of k consecutive packets
 * on the path, so the receiver rebuilds a single lost packet of a group as soon as the rest of
 * the group and the parity are in (a few packet times) instead of after a repair round trip.
 * Groups are runs of per-path sequence numbers, so packets carry nothing extra: the parity
 * names its group. XOR only (RAID-5 style); in a real mode the parity is computed over plaintext
 * units and then sealed like any packet, so it never weakens authentication.
 */

/** Our choice: FEC starts on a path whose measured loss rises above this, and stops below the second (hysteresis). */
export const FEC_ON_LOSS_RATIO = 0.01
export const FEC_OFF_LOSS_RATIO = 0.005
/**
 * Our choice: k is sized so a group (k packets + parity) expects this many losses (5 % loss:
 * k = 29). A single parity rebuilds one loss per group; the groups that lose two or more are left
 * to the nack repair, and each parity costs 1/(k+1) of the path. With repairs slow (behind the
 * fast path's 40 ms pace queue) 0.5 was best (the simulator's 5 % loss row: 25.0, 25.6, 25.1
 * Mbit/s at 0.3, 0.5, 0.8); once repairs went ahead of the pace queue and a nack waited at most
 * 5 ms for a parity, repairs became cheap and parity the cost: 27.5, 27.8, 27.9, 28.2, 28.3, 28.2
 * at 0.35, 0.5, 0.7, 1.0, 1.5, 2.0 (three runs each, averaged; with no nack wait).
 */
export const FEC_LOSSES_PER_GROUP = 1.5
export const FEC_MIN_GROUP = 2
export const FEC_MAX_GROUP = 32
/**
 * A partial group gets its parity anyway once no member joined it for this long (the tail of a
 * burst is protected too). Counted from the last member, not the first: from the first, a busy
 * 10 Mbit/s path (a member every 1.2 ms) had its groups cut at 4-5 members whatever k was.
 */
export const FEC_FLUSH_MS = 5

/** The parity of one group: it names its members (per-path sequences firstSeq .. firstSeq + count - 1). */
export interface ParityUnit {
  firstSeq: number
  count: number
  /** XOR of the members' lengths: the rebuilt member's length is this XOR the others'. */
  lengthXor: number
  /** XOR of the members' bytes, each zero-padded to the longest (so this is as long as the longest). */
  bytes: Uint8Array
}

/**
 * Group size for a measured loss ratio (0: FEC off). `isOn` gives the hysteresis. `sizingRatio`
 * (default: the same) sizes the group once FEC is on: a steadier average of the same loss.
 */
export function fecGroupSize (lossRatio: number, isOn: boolean, sizingRatio = lossRatio): number {
  if (!(lossRatio >= (isOn ? FEC_OFF_LOSS_RATIO : FEC_ON_LOSS_RATIO))) return 0
  // k packets and a parity expect (k + 1) x loss losses.
  const k = Math.round(FEC_LOSSES_PER_GROUP / Math.max(sizingRatio, FEC_OFF_LOSS_RATIO)) - 1
  return Math.min(FEC_MAX_GROUP, Math.max(FEC_MIN_GROUP, k))
}

/**
 * Sender side, one per path. Every packet sent on the path with a per-path sequence goes through
 * `add`; a parity it returns is sent on the path too (it takes a per-path sequence of its own,
 * which is not added: a gap in the sequence ends the group). Pure: the caller passes `nowMs`.
 */
export class FecEncoder {
  /** Members per group; 0 while FEC is off. Set from the path's loss with `setLossRatio`. */
  groupSize = 0
  /** Parities produced. */
  parities = 0
  private readonly acc: Uint8Array
  private accLength = 0
  private lengthXor = 0
  private firstSeq = -1
  private count = 0
  private lastAtMs = 0

  constructor (readonly maxPayloadBytes = 65_535) {
    this.acc = new Uint8Array(maxPayloadBytes)
  }

  /**
   * Adapts k to the path's measured loss (takes effect from the next group; 0 turns FEC off):
   * on and off by `lossRatio`, k by `sizingRatio` (LossEstimator.steadyRatio; default the same).
   */
  setLossRatio (lossRatio: number, sizingRatio = lossRatio): void {
    this.groupSize = fecGroupSize(lossRatio, this.groupSize > 0, sizingRatio)
  }

  /**
   * A packet with per-path sequence `seq` and plaintext `payload` was sent. Returns a parity to
   * send when this completes a group (or when a gap in the sequence ended the one before).
   */
  add (seq: number, payload: Uint8Array, nowMs: number): ParityUnit | undefined {
    if (payload.length > this.maxPayloadBytes) throw new RangeError(`FEC member of ${payload.length} bytes > ${this.maxPayloadBytes}`)
    let parity: ParityUnit | undefined
    if (this.count > 0 && seq !== this.firstSeq + this.count) parity = this.take()
    if (this.groupSize === 0) return parity ?? (this.count > 0 ? this.take() : undefined)
    if (this.count === 0) this.firstSeq = seq
    this.lastAtMs = nowMs
    for (let i = 0; i < payload.length; i++) this.acc[i]! ^= payload[i]!
    if (payload.length > this.accLength) this.accLength = payload.length
    this.lengthXor ^= payload.length
    this.count++
    // One parity per call at most: a group cut by a gap restarted with this packet (count 1 < k).
    if (parity === undefined && this.count >= this.groupSize) parity = this.take()
    return parity
  }

  /** When the partial group must get its parity (Infinity: none pending). */
  flushDueMs (): number {
    return this.count > 0 ? this.lastAtMs + FEC_FLUSH_MS : Infinity
  }

  /** The partial group's parity if it is due (see flushDueMs). */
  flush (nowMs: number): ParityUnit | undefined {
    return this.count > 0 && nowMs >= this.flushDueMs() ? this.take() : undefined
  }

  private take (): ParityUnit {
    const parity: ParityUnit = { firstSeq: this.firstSeq, count: this.count, lengthXor: this.lengthXor, bytes: this.acc.slice(0, this.accLength) }
    this.acc.fill(0, 0, this.accLength)
    this.accLength = 0
    this.lengthXor = 0
    this.count = 0
    this.firstSeq = -1
    this.parities++
    return parity
  }
}
