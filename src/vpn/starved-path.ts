/**
 * Finds a starved path: usable, with a planning rate so low that one full packet is more than
 * the slower paths' queue budget (`auto` then never gives it one), and no data sent on it for a
 * whole check interval. Such a path can never prove a better rate, so the caller makes it search
 * again from startup's first guess. In the VPN lab an idle l1 sometimes had startup's guess
 * replaced by 0.01-0.04 Mbit/s (delivery samples of probes and a few IPv6 packets taken for a busy
 * path's); in startup or out of it, it then carried nothing while the bond ran on l2 alone for
 * seconds: 3.7-10.2 Mbit/s, BBR and CUBIC alike.
 * That cause is fixed where the samples are taken (Path: a sample of fewer than four packets never
 * lowers the estimate; a receiver stall had made a lone probe look busy, `npm run sim:idle-stalls`);
 * this check stays as the backstop for any other way a path's estimate can fall that far.
 * Pure: the caller passes the time and the path's figures.
 */
import { SLOWER_PATH_BUDGET_MS } from '../multipath/index.js'

/** Our choice: a path is checked once a second (a starved path loses at most about that). */
export const STARVED_CHECK_MS = 1000

export interface PathFigures {
  isUsable: boolean
  planningBitsPerSec: number
  /** Data packets sent on it so far (probes left out). */
  dataSent: number
}

export class StarvedPaths {
  private readonly checkedMs: Float64Array
  private readonly dataSentAtCheck: Float64Array

  constructor (maxPaths: number, private readonly packetBytes: number) {
    this.checkedMs = new Float64Array(maxPaths).fill(-Infinity)
    this.dataSentAtCheck = new Float64Array(maxPaths).fill(-1)
  }

  /** Whether path `id` is starved now (true at most once per STARVED_CHECK_MS per path). */
  isStarved (id: number, p: PathFigures, nowMs: number): boolean {
    if (nowMs - this.checkedMs[id]! < STARVED_CHECK_MS) return false
    const carriedNone = p.dataSent === this.dataSentAtCheck[id]
    const isFirst = this.checkedMs[id] === -Infinity
    this.checkedMs[id] = nowMs
    this.dataSentAtCheck[id] = p.dataSent
    if (isFirst || !carriedNone || !p.isUsable || !(p.planningBitsPerSec > 0)) return false
    return (this.packetBytes * 8000) / p.planningBitsPerSec > SLOWER_PATH_BUDGET_MS
  }
}
