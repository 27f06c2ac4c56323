/**
 * `--equal-delay`: packets that came over a faster path wait here until the slowest path's base
 * delay has passed (of the paths that count: countsForEqualDelay), before the reorder buffer.
 * Every packet then reaches the TUN as late as one over the slowest path, so the bond looks to the
 * inner flows like one link with that delay.
 *
 * Why a user would want it: a delay-based sender (Linux BBR v1, common on servers) sizes its window
 * to 2 x rate x the smallest round trip it has seen, and a flow's handshake and first packets go
 * over the fastest path. Through a bond whose paths differ by tens of ms, such a flow then has a
 * window too small for the slow path's share until its PROBE_RTT (10 s): 64-67 % of the sum with
 * l1 10 Mbit/s 10 ms and l2 20 Mbit/s 60 ms. Equal delay on one side suffices (every round trip
 * crosses it once). The cost is that every packet it holds takes the slowest path's delay: by
 * default (`tcp`) the Peer holds TCP segments only, which is what a TCP sender's window needs,
 * and pings, DNS and voice keep the fastest path's delay.
 *
 * Pure: the caller passes the time, pushes what arrives and calls `releaseDue` often (the Peer: every tick).
 */

import type { PathState } from '../multipath/path-state.js'

/** Our choice: packets waiting per path at most (a second of 20 Mbit/s is ~1800 full packets). */
export const DELAY_LINE_PACKETS = 4096

/** One path's waiting packets: a ring, oldest first. */
interface Ring {
  readonly path: number
  readonly releaseAtMs: Float64Array
  readonly buckets: Uint16Array
  readonly seqs: Float64Array
  readonly ids: Int32Array
  head: number
  count: number
}

export class DelayLine {
  /** Rings by path id, made on a path's first packet (a peer has up to 256 path ids, a few in use). */
  private readonly rings: (Ring | undefined)[] = []
  private readonly inUse: Ring[] = []
  private readonly mask: number
  /** Packets held here so far (in the Peer's summary line: `delayed`). */
  held = 0

  /**
   * `release(bucket, flowSeq, id, path)` receives each packet when its time comes, in release
   * order (one callback for the line's life: no closure per packet).
   */
  constructor (private readonly release: (bucket: number, flowSeq: number, id: number, path: number) => void, private readonly capacity = DELAY_LINE_PACKETS) {
    if ((capacity & (capacity - 1)) !== 0 || capacity < 2) throw new RangeError(`delay line capacity must be a power of two >= 2, got ${capacity}`)
    this.mask = capacity - 1
  }

  /** Whether `path` has room for one more packet (when it has none, the caller lets the packet through). */
  hasRoom (path: number): boolean { return (this.rings[path]?.count ?? 0) < this.capacity }

  /**
   * Holds a packet that came over `path` until `releaseAtMs`. A path's packets leave in the order
   * they came: one is never released before the one ahead of it (when the hold shrinks).
   */
  push (path: number, releaseAtMs: number, bucket: number, flowSeq: number, id: number): void {
    const ring = this.rings[path] ?? this.makeRing(path)
    if (ring.count >= this.capacity) throw new RangeError(`delay line for path ${path} is full`)
    const tail = (ring.head + ring.count) & this.mask
    const ahead = ring.count > 0 ? ring.releaseAtMs[(tail - 1) & this.mask]! : -Infinity
    ring.releaseAtMs[tail] = Math.max(releaseAtMs, ahead)
    ring.buckets[tail] = bucket
    ring.seqs[tail] = flowSeq
    ring.ids[tail] = id
    ring.count++
    this.held++
  }

  /** Releases every packet whose time has come, earliest first across the paths. */
  releaseDue (nowMs: number): void {
    for (;;) {
      let best: Ring | undefined
      let bestAt = Infinity
      for (let i = 0; i < this.inUse.length; i++) {
        const ring = this.inUse[i]!
        if (ring.count > 0 && ring.releaseAtMs[ring.head]! < bestAt) { bestAt = ring.releaseAtMs[ring.head]!; best = ring }
      }
      if (best === undefined || bestAt > nowMs) return
      const head = best.head
      best.head = (head + 1) & this.mask
      best.count--
      this.release(best.buckets[head]!, best.seqs[head]!, best.ids[head]!, best.path)
    }
  }

  /** Releases everything now, in order (a new session, or the peer is closing). */
  releaseAll (): void { this.releaseDue(Infinity) }

  private makeRing (path: number): Ring {
    const ring: Ring = {
      path, head: 0, count: 0, releaseAtMs: new Float64Array(this.capacity), buckets: new Uint16Array(this.capacity),
      seqs: new Float64Array(this.capacity), ids: new Int32Array(this.capacity),
    }
    this.rings[path] = ring
    this.inUse.push(ring)
    return ring
  }
}

/** Our choice: a path that carries data counts for the hold while it was heard this lately (as the reorder hold's spread does). */
export const EQUAL_DELAY_LIVE_MS = 1000

/**
 * Whether a path's base delay counts toward the hold, `sinceHeardMs` after it was last heard: one
 * that may carry data and was heard lately. A backup path carries data only when no primary can,
 * and then alone, so it never counts. Nor does a down path: holding a flow to a dead path's delay
 * kept a BBR sender's window sized to the bond, and over the surviving path alone it then lost
 * packets to ttt's wait for a path with room. In the lab, that made the failover stall 334-347 ms
 * in 2 of 5 runs, against 194-278 ms without it. The price: after the restore, such a sender's
 * window fits the fast path's round trip until its next PROBE_RTT (l2 carried 1.8-3.8 Mbit/s in
 * its first second back, against 6.9-7.4).
 */
export function countsForEqualDelay (state: PathState, sinceHeardMs: number): boolean {
  return state !== 'backup' && state !== 'down' && sinceHeardMs <= EQUAL_DELAY_LIVE_MS
}

/**
 * How long a packet that came over a path of base one-way delay `pathBaseMs` waits: the slowest
 * live path's base delay minus its own (base delays share one clock offset, so their differences
 * are real). 0 when it is the slowest, or when no delay is known yet.
 */
export function equalizingHoldMs (pathBaseMs: number, slowestBaseMs: number): number {
  const holdMs = slowestBaseMs - pathBaseMs
  return Number.isFinite(holdMs) && holdMs > 0 ? holdMs : 0
}
