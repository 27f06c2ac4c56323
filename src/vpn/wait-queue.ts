/**
 * Inner packets (their repair-ring unit ids) waiting, in order, for a path with room: what `auto`
 * cannot place right now waits here instead of being dropped, so a burst meets a short delay
 * rather than a loss no network caused. The queue is bounded by how long its oldest packet has
 * waited (a delay, which is what the inner flow feels) once it holds more than a burst, and
 * however few it holds by a longer ceiling on that wait, with a count cap as the backstop for the
 * repair ring the ids point into (the Peer gives it half the ring, so the other half keeps what is
 * in flight repairable). A packet offered past either bound is refused: that drop is the
 * inner flow's congestion signal. Time is passed in; nothing here reads a clock.
 */

/**
 * Our choice: the longest the oldest waiting packet may have waited before new ones are refused.
 * Long enough to ride out a sender's TSO burst (about 45 segments handed over at once) and a few
 * ms off-CPU under load, which at 1 Gbit/s is already over a thousand packets (a fixed 512 refused
 * thousands per second there); short next to the 40 ms queue budget `auto` allows on each path, so
 * the delay a bulk flow meets in the tunnel stays dominated by the paths, not by us.
 */
export const WAIT_LIMIT_MS = 25
/**
 * Our choice: this many packets may always wait, however long (the fixed bound this queue had
 * before). On a slow or app-limited path the rate `auto` plans with lags behind what the sender
 * bursts (a 64 KiB TSO super-packet is about 45 segments, and iperf3 -b 30M sends such bursts):
 * with the time bound alone a paced 30 Mbit/s flow over an unshaped link lost ~170 packets in 6 s
 * (0 with this floor), and 25 ms is only ~60 packets at 30 Mbit/s.
 */
export const WAIT_FLOOR_PACKETS = 512
/**
 * Our choice: however many wait, the oldest may not have waited longer than this. The floor above
 * lets a slow bond's queue reach a long delay (512 packets are 290 ms at 20 Mbit/s): a CUBIC
 * flow keeps it there, and after l2's cut in the lab its refused packets' retransmissions waited
 * that long behind it (stalls of 300 ms once the cut's own holes were repaired in 200). At the
 * ceiling a retransmission waits at most this, a TSO burst at 30 Mbit/s still fits 5 times over.
 */
export const WAIT_CEILING_MS = 100

export interface WaitQueueStats {
  /** Offers refused because the oldest waiting packet had waited WAIT_LIMIT_MS or more (with the floor's worth waiting). */
  refusedAged: number
  /** Offers refused because the oldest waiting packet had waited WAIT_CEILING_MS or more (however few wait). */
  refusedCeiling: number
  /** Offers refused because the queue held its count cap. */
  refusedFull: number
  /** Most packets waiting at once. */
  maxCount: number
  /** Longest any packet waited before it left (ms). */
  maxWaitMs: number
}

export class WaitQueue {
  private readonly ids: Float64Array
  private readonly sinceMs: Float64Array
  private head = 0
  private count = 0
  readonly stats: WaitQueueStats = { refusedAged: 0, refusedCeiling: 0, refusedFull: 0, maxCount: 0, maxWaitMs: 0 }

  constructor (readonly capacity: number, readonly limitMs = WAIT_LIMIT_MS, readonly floorPackets = WAIT_FLOOR_PACKETS, readonly ceilingMs = WAIT_CEILING_MS) {
    if (!(capacity >= 1) || !Number.isInteger(capacity)) throw new RangeError(`wait queue capacity must be a positive integer, got ${capacity}`)
    this.ids = new Float64Array(capacity)
    this.sinceMs = new Float64Array(capacity)
  }

  get size (): number { return this.count }

  /** How long the oldest waiting packet has waited at `nowMs` (0 when none waits). */
  oldestWaitMs (nowMs: number): number {
    return this.count === 0 ? 0 : nowMs - this.sinceMs[this.head]!
  }

  /** Whether a packet offered at `nowMs` may wait (nothing counted). */
  hasRoom (nowMs: number): boolean {
    if (this.count === 0) return true // capacity >= 1
    const waitedMs = nowMs - this.sinceMs[this.head]!
    return this.count < this.capacity && (this.count < this.floorPackets || waitedMs < this.limitMs) && waitedMs < this.ceilingMs
  }

  /** Whether a packet offered at `nowMs` may wait; counts the refusal, by cause, when not. */
  admit (nowMs: number): boolean {
    if (this.count === this.capacity) { this.stats.refusedFull++; return false }
    if (this.count === 0) return true
    const waitedMs = nowMs - this.sinceMs[this.head]!
    if (this.count >= this.floorPackets && waitedMs >= this.limitMs) { this.stats.refusedAged++; return false }
    if (waitedMs >= this.ceilingMs) { this.stats.refusedCeiling++; return false }
    return true
  }

  /** Appends `id` (call after `admit` said yes; a full queue throws). */
  push (id: number, nowMs: number): void {
    if (this.count === this.capacity) throw new RangeError('wait queue is full')
    const at = (this.head + this.count) % this.capacity
    this.ids[at] = id
    this.sinceMs[at] = nowMs
    this.count++
    if (this.count > this.stats.maxCount) this.stats.maxCount = this.count
  }

  /** The oldest waiting id (undefined when empty). */
  peek (): number | undefined {
    return this.count === 0 ? undefined : this.ids[this.head]
  }

  /** Removes the oldest id (it left at `nowMs`) and returns it. */
  shift (nowMs: number): number {
    if (this.count === 0) throw new RangeError('wait queue is empty')
    const id = this.ids[this.head]!
    const waitedMs = nowMs - this.sinceMs[this.head]!
    if (waitedMs > this.stats.maxWaitMs) this.stats.maxWaitMs = waitedMs
    this.head = (this.head + 1) % this.capacity
    this.count--
    return id
  }

  /** Drops everything waiting; returns how many there were. */
  clear (): number {
    const n = this.count
    this.head = 0
    this.count = 0
    return n
  }
}
