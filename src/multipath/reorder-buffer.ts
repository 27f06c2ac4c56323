import { DEFAULT_FLOW_BUCKETS, REORDER_WINDOW_PACKETS } from './constants.js'
import { HoldTimeEstimator } from './hold-time.js'

export interface ReorderStats {
  /** Items handed to `deliver`. */
  delivered: number
  /** Items that had to wait behind a hole (0 when paths never reorder). */
  held: number
  /** Sequence numbers given up on (hold expired or window overflow). */
  skipped: number
  /** Of `skipped`, those given up because an arrival lay beyond a window that still held items (the buffer's cap). */
  overflowSkipped: number
  /** Of `held`, items that were waiting when a hole was given up on: held by a loss, not by reordering. */
  heldBehindLoss: number
  /** Items dropped because that sequence was already delivered or is already held. */
  duplicates: number
  /** Items dropped because they arrived after their hole was skipped. */
  late: number
  /** Items waiting right now, and the most ever waiting at once. */
  holding: number
  maxHolding: number
}

interface Bucket<T> {
  next: number
  /** False after `resync`: the next sequence seen becomes `next`. */
  synced: boolean
  holding: number
  /** When the current hole started to hold something back. */
  holeSinceMs: number
  readonly items: (T | undefined)[]
  readonly seqs: Float64Array
  readonly arrivalMs: Float64Array
  /** Sequence skipped in each slot (-1: none), to tell a late arrival from a duplicate. */
  readonly skippedSeq: Float64Array
  readonly skippedAtMs: Float64Array
}

export interface ReorderOptions<T> {
  /** Receives items in sequence order per bucket (one callback for the buffer's life: no closure per item). */
  deliver: (item: T, bucket: number) => void
  buckets?: number
  /** Per-bucket window in packets (power of two). */
  windowPackets?: number
  holdTime?: HoldTimeEstimator
  /** Optional, for tracing: called for each sequence given up on (hold expired, abandoned, resync, window overflow). */
  onSkip?: (bucket: number, seq: number, nowMs: number) => void
  /**
   * An item pushed with `isRepair` that comes after its hole was skipped does not lengthen the hold
   * (default: it does). The caller says which repairs: a failing path's repair measures how late
   * the failover was, not how far apart the paths are.
   */
  ignoresLateRepairs?: boolean
}

/**
 * Puts items back in order per flow class. Each bucket has its own sequence, so a hole stalls
 * only its own bucket (MLVPN's one global buffer stalls every flow). A hole is waited for at most
 * the hold time, then skipped and counted; duplicates (from `redundant`) and late arrivals are
 * dropped. Pure: the caller passes `nowMs` and calls `expire` by `nextDeadlineMs()`.
 */
export class ReorderBuffer<T> {
  readonly stats: ReorderStats = { delivered: 0, held: 0, skipped: 0, overflowSkipped: 0, heldBehindLoss: 0, duplicates: 0, late: 0, holding: 0, maxHolding: 0 }
  readonly holdTime: HoldTimeEstimator
  private readonly buckets: Bucket<T>[] = []
  private readonly mask: number
  private readonly deliver: (item: T, bucket: number) => void
  private readonly onSkip: ((bucket: number, seq: number, nowMs: number) => void) | undefined
  private readonly ignoresLateRepairs: boolean

  constructor (options: ReorderOptions<T>) {
    const window = options.windowPackets ?? REORDER_WINDOW_PACKETS
    if ((window & (window - 1)) !== 0 || window < 2) throw new RangeError(`reorder window must be a power of two >= 2, got ${window}`)
    this.mask = window - 1
    this.deliver = options.deliver
    this.onSkip = options.onSkip
    this.ignoresLateRepairs = options.ignoresLateRepairs === true
    this.holdTime = options.holdTime ?? new HoldTimeEstimator()
    const n = options.buckets ?? DEFAULT_FLOW_BUCKETS
    for (let b = 0; b < n; b++) {
      this.buckets.push({
        next: 0, synced: true, holding: 0, holeSinceMs: 0, items: new Array<T | undefined>(window).fill(undefined),
        seqs: new Float64Array(window).fill(-1), arrivalMs: new Float64Array(window),
        skippedSeq: new Float64Array(window).fill(-1), skippedAtMs: new Float64Array(window),
      })
    }
  }

  get bucketCount (): number { return this.buckets.length }

  /** Whether `push(bucketIndex, seq, …)` would hand its item to `deliver` at once (the next in order). */
  isNext (bucketIndex: number, seq: number): boolean {
    const b = this.buckets[bucketIndex]
    return b !== undefined && Number.isSafeInteger(seq) && seq >= 0 && (!b.synced || seq === b.next)
  }

  /** An item with per-bucket sequence `seq` arrived (`isRepair`: sent again by the sender). Delivers whatever is now in order. */
  push (bucketIndex: number, seq: number, item: T, nowMs: number, isRepair = false): void {
    const b = this.buckets[bucketIndex]
    if (!b) throw new RangeError(`no reorder bucket ${bucketIndex}`)
    // Sequences are non-negative integers; anything else (a wrapped or forged field) is dropped.
    if (!Number.isSafeInteger(seq) || seq < 0) { this.stats.duplicates++; return }
    if (!b.synced) { b.synced = true; b.next = seq }
    const slot = seq & this.mask
    if (seq < b.next) {
      if (b.skippedSeq[slot] === seq) {
        this.stats.late++
        if (!(isRepair && this.ignoresLateRepairs)) this.holdTime.addLateSample(nowMs - b.skippedAtMs[slot]!, nowMs)
        b.skippedSeq[slot] = -1
      } else {
        this.stats.duplicates++
      }
      return
    }
    if (seq === b.next) {
      const hadHole = b.holding > 0
      this.emit(bucketIndex, item)
      b.next++
      if (hadHole) {
        this.holdTime.addFillSample(nowMs - b.holeSinceMs, nowMs)
        this.drain(b, bucketIndex)
      }
      return
    }
    if (b.seqs[slot] === seq) { this.stats.duplicates++; return }
    // Beyond the window: give up on the oldest holes until it fits.
    if (b.holding === 0 && seq - b.next > this.mask) {
      this.stats.skipped += seq - this.mask - b.next
      b.next = seq - this.mask
    }
    const skippedBefore = this.stats.skipped
    while (seq - b.next > this.mask) {
      if (b.holding === 0) {
        // Nothing left to deliver in between: jump, rather than skip one number at a time.
        this.stats.skipped += seq - this.mask - b.next
        b.next = seq - this.mask
        break
      }
      this.skipHole(b, bucketIndex, nowMs)
    }
    this.stats.overflowSkipped += this.stats.skipped - skippedBefore
    if (seq === b.next) { this.push(bucketIndex, seq, item, nowMs, isRepair); return }
    b.items[slot] = item
    b.seqs[slot] = seq
    b.arrivalMs[slot] = nowMs
    if (b.holding === 0) b.holeSinceMs = nowMs
    b.holding++
    this.stats.held++
    this.stats.holding++
    if (this.stats.holding > this.stats.maxHolding) this.stats.maxHolding = this.stats.holding
  }

  /**
   * The sender will not send `seq` again (it was lost and is not repaired): if it is the hole the
   * bucket waits on, give up on it now instead of after the hold time. A later `seq` (behind other
   * holes) is left to the hold time.
   */
  abandon (bucketIndex: number, seq: number, nowMs: number): void {
    const b = this.buckets[bucketIndex]
    if (!b || !Number.isSafeInteger(seq) || seq !== b.next) return
    if (b.holding > 0) {
      this.skipHole(b, bucketIndex, nowMs)
      return
    }
    // Nothing waits yet: pass over it so the packet after it is not held for it.
    const slot = seq & this.mask
    b.skippedSeq[slot] = seq
    b.skippedAtMs[slot] = nowMs
    b.next++
    this.stats.skipped++
    this.onSkip?.(bucketIndex, seq, nowMs)
  }

  /**
   * A new session: the peer's sequences go on from anywhere (a restarted peer starts again at 0,
   * which would otherwise all look like duplicates). What is held is delivered in order, its holes
   * given up, and each bucket then starts at the first sequence it sees.
   */
  resync (nowMs: number): void {
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!
      while (b.holding > 0) this.skipHole(b, i, nowMs)
      b.skippedSeq.fill(-1)
      b.synced = false
    }
  }

  /** Skips every hole that has waited its hold time. */
  expire (nowMs: number): void {
    this.holdTime.advance(nowMs)
    const holdMs = this.holdTime.holdMs
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!
      while (b.holding > 0 && b.holeSinceMs + holdMs <= nowMs) this.skipHole(b, i, nowMs)
    }
  }

  /** When `expire` must next run (Infinity when nothing waits). */
  nextDeadlineMs (): number {
    let deadline = Infinity
    const holdMs = this.holdTime.holdMs
    for (let i = 0; i < this.buckets.length; i++) {
      const b = this.buckets[i]!
      if (b.holding > 0 && b.holeSinceMs + holdMs < deadline) deadline = b.holeSinceMs + holdMs
    }
    return deadline
  }

  /** Gives up on the missing sequences at the head of `b`, then delivers what follows in order. */
  private skipHole (b: Bucket<T>, bucketIndex: number, nowMs: number): void {
    this.stats.heldBehindLoss += this.heldBeforeNextHole(b)
    do {
      const slot = b.next & this.mask
      b.skippedSeq[slot] = b.next
      b.skippedAtMs[slot] = nowMs
      this.onSkip?.(bucketIndex, b.next, nowMs)
      b.next++
      this.stats.skipped++
    } while (b.holding > 0 && b.seqs[b.next & this.mask] !== b.next)
    this.drain(b, bucketIndex)
  }

  /** Delivers consecutive held items from `b.next`; restarts the hole clock at the next hole. */
  private drain (b: Bucket<T>, bucketIndex: number): void {
    for (;;) {
      const slot = b.next & this.mask
      if (b.holding === 0 || b.seqs[slot] !== b.next) break
      const item = b.items[slot] as T
      b.items[slot] = undefined
      b.seqs[slot] = -1
      b.holding--
      this.stats.holding--
      this.emit(bucketIndex, item)
      b.next++
    }
    if (b.holding > 0) b.holeSinceMs = this.earliestArrival(b)
  }

  /** Items waiting behind the head hole up to the next hole (those the skip releases now). */
  private heldBeforeNextHole (b: Bucket<T>): number {
    if (b.holding === 0) return 0
    let seq = b.next
    while (b.seqs[seq & this.mask] !== seq) seq++ // the hole being skipped
    let n = 0
    while (n < b.holding && b.seqs[seq & this.mask] === seq) { n++; seq++ }
    return n
  }

  private earliestArrival (b: Bucket<T>): number {
    let earliest = Infinity
    for (let seq = b.next, found = 0; found < b.holding; seq++) {
      const slot = seq & this.mask
      if (b.seqs[slot] === seq) {
        found++
        if (b.arrivalMs[slot]! < earliest) earliest = b.arrivalMs[slot]!
      }
    }
    return earliest
  }

  private emit (bucketIndex: number, item: T): void {
    this.stats.delivered++
    this.deliver(item, bucketIndex)
  }
}
