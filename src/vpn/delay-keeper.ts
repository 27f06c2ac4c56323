/**
 * Keeps the delay a bulk flow sees through the bond from dropping when its rate drops for a moment.
 *
 * A flow spread over a fast and a slow path sees the slow path's delay: each packet on the fast
 * path waits at the receiver for the slow-path packets sent before it. When the flow's rate
 * briefly falls under what the fast path carries alone, `auto` puts it all on the fast path and
 * its round trip falls to the fast path's. A delay-based sender takes that as the path's true
 * round trip: Linux BBR (the lab's default congestion control) drains to 4 packets for 200 ms every
 * 10 s (PROBE_RTT), met the fast path's 21 ms there, sized its window to 2 x rate x 21 ms, and never
 * used the slow path again (bonded 27.5 -> 17-20 Mbit/s for the rest of every lab run, from 10.2 s).
 * So for a while after a flow last used a slower path (the memory below), a packet that would
 * not have waited behind any of its slow-path packets goes on that slower path when it has room:
 * the flow's round trip stays what it was while it filled both paths. Sparse flows never use a
 * slower path, so a ping still takes the fastest one.
 */

/** What the keeper needs to know of a path (Path implements it). */
export interface KeeperPath {
  readonly id: number
  /** Propagation delay comparable across the paths of one peer (one-way, common clock offset). */
  relativeBaseDelayMs(): number
  /** Modelled bottleneck queue that `bytes` more would wait behind. */
  queueDelayMs(bytes: number, nowMs: number): number
  /** The rate the scheduler plans with. */
  planningRateBitsPerSec(): number
  /** How long the path has been silent beyond what is expected (> 0: its replies are late). */
  overdueMs(nowMs: number): number
}

/**
 * Our choice: long enough to cover a PROBE_RTT (200 ms plus a round trip) and a few round trips
 * at a lower rate, short enough that a flow which turned interactive is back on the fastest path
 * within a second.
 */
export const KEEP_DELAY_MEMORY_MS = 1000
/**
 * Our choice: only a flow that has filled both paths for this long is kept (its startup is over).
 * Kept from its first spill onto the slower path, BBR's startup met the slower path's round trip
 * with the fastest path's as its minimum and sized its window to that: one startup in three took
 * 2 s instead of 0.6 s to reach 16 Mbit/s in the lab.
 */
export const KEEP_AFTER_MS = 2000
/**
 * Our choice: a flow counts as filling both paths only while it hands over at least this share of
 * what the fastest path carries. A slow flow that `auto` put on the slower path for another reason
 * (the fastest path's estimate still low) is not kept there: kept, its round trip rose to the slower
 * path's while BBR's minimum was still the fastest path's, and its startup stalled at 3.6 Mbit/s.
 */
export const BULK_SHARE_OF_FASTEST = 0.5
/** Paths whose base delays differ by less than this count as the same (as in `auto`). */
const SAME_DELAY_MS = 1

export class DelayKeeper {
  /** Per bucket: the slower path it last used while `auto` chose freely (-1: none). */
  private readonly slowPathId: Int16Array
  /** Per bucket: when `auto` last chose that slower path for it. */
  private readonly slowChosenMs: Float64Array
  /** Per bucket: when any of its packets last went on that slower path (chosen or kept). */
  private readonly slowSentMs: Float64Array
  /** Per bucket: since when `auto` has been choosing the slower path for it (with gaps under the memory). */
  private readonly slowSinceMs: Float64Array
  /** Packets put on a slower path by this rule. */
  kept = 0

  constructor (buckets: number, readonly memoryMs = KEEP_DELAY_MEMORY_MS, readonly keepAfterMs = KEEP_AFTER_MS) {
    this.slowPathId = new Int16Array(buckets).fill(-1)
    this.slowChosenMs = new Float64Array(buckets).fill(-Infinity)
    this.slowSentMs = new Float64Array(buckets).fill(-Infinity)
    this.slowSinceMs = new Float64Array(buckets).fill(Infinity)
  }

  /**
   * Records that the scheduler chose `path` for a packet of `bucket` among `usable` (the paths it
   * could use), the bucket handing over `bucketBitsPerSec` lately.
   */
  onChosen (bucket: number, path: KeeperPath, usable: readonly KeeperPath[], bucketBitsPerSec: number, nowMs: number): void {
    const fastest = fastestOf(usable)
    if (fastest === undefined || path.relativeBaseDelayMs() <= fastest.relativeBaseDelayMs() + SAME_DELAY_MS) return
    if (bucketBitsPerSec < BULK_SHARE_OF_FASTEST * fastest.planningRateBitsPerSec()) return
    if (this.slowPathId[bucket] !== path.id || nowMs - this.slowChosenMs[bucket]! > this.memoryMs) this.slowSinceMs[bucket] = nowMs
    this.slowPathId[bucket] = path.id
    this.slowChosenMs[bucket] = nowMs
    this.slowSentMs[bucket] = nowMs
  }

  /**
   * The slower path to send a packet of `bytes` of `bucket` on instead of the scheduler's choice,
   * or undefined to let the scheduler choose. `usable`: the paths the scheduler may use now;
   * `budgetMs`: the most modelled queue the slower path may have (its bottleneck budget).
   */
  pathFor (bucket: number, bytes: number, usable: readonly KeeperPath[], budgetMs: number, nowMs: number): KeeperPath | undefined {
    const id = this.slowPathId[bucket]!
    if (id < 0 || nowMs - this.slowChosenMs[bucket]! > this.memoryMs || nowMs - this.slowSinceMs[bucket]! < this.keepAfterMs) return undefined
    let slow: KeeperPath | undefined
    for (let i = 0; i < usable.length; i++) if (usable[i]!.id === id) slow = usable[i]
    if (slow === undefined) return undefined
    const spreadMs = slow.relativeBaseDelayMs() - fastestOf(usable)!.relativeBaseDelayMs()
    if (!(spreadMs > SAME_DELAY_MS)) return undefined
    // Sent on a faster path now, the packet would still wait for the last one on the slower path:
    // the flow's delay is kept anyway, and the faster path is the better choice.
    if (nowMs - this.slowSentMs[bucket]! < spreadMs) return undefined
    if (slow.queueDelayMs(bytes, nowMs) > budgetMs) return undefined
    // A slower path whose replies are late may have died (not yet judged down): a flow whose rate
    // dipped because of that must not be sent into it.
    if (slow.overdueMs(nowMs) > 0) return undefined
    this.slowSentMs[bucket] = nowMs
    this.kept++
    return slow
  }

  /** Forgets every bucket's slower path (a new session: path ids and delays may differ). */
  reset (): void {
    this.slowPathId.fill(-1)
    this.slowChosenMs.fill(-Infinity)
    this.slowSentMs.fill(-Infinity)
    this.slowSinceMs.fill(Infinity)
  }
}

/** The path of least base delay (undefined when there is none). */
function fastestOf (paths: readonly KeeperPath[]): KeeperPath | undefined {
  let best: KeeperPath | undefined
  for (let i = 0; i < paths.length; i++) if (best === undefined || paths[i]!.relativeBaseDelayMs() < best.relativeBaseDelayMs()) best = paths[i]
  return best
}
