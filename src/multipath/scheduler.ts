import type { Path } from './path.js'
import { QUEUE_BUDGET_MS, BURST_BUDGET_MS, FILL_THRESHOLD_MS, OVERFLOW_QUEUE_SHARE } from './constants.js'
import type { PathState } from './path-state.js'

export type SchedulerKind = 'auto' | 'weighted' | 'redundant'

/**
 * One interface for both modes: given the paths and a unit of `bytes` at `nowMs`, which path(s).
 * The choice is written into `out` (a caller-owned array, reused: no allocation per unit) and
 * the count returned; 0 means no path may carry data (all down). The caller then records the
 * send on each chosen path with `path.onSend`. `auto` also returns 0 when every usable path's
 * queue is over its budget: the VPN then drops the unit (that loss is the inner flow's congestion
 * signal), the pipe waits. `bestTier(paths) < 0` tells "all down" from "all full".
 */
export interface Scheduler {
  readonly kind: SchedulerKind
  pick (paths: readonly Path[], bytes: number, nowMs: number, out: Path[]): number
}

const PROBING_TIER = 4
/** Our choice (AutoScheduler.lossyBudgetExtraMs): a path losing this much at random has holes that wait for repairs. */
export const LOSSY_PATH_RATIO = 0.01
/** Our choice: paths whose base delays differ by less than this count as the same (both get the tight budget). */
const SAME_DELAY_MS = 1

/**
 * Preference tiers, best first: primary up, primary degraded, backup, backup degraded, then
 * probing paths as a last resort (a new session has nothing better). Down is never usable.
 */
function tierOf (path: Path): number {
  const state: PathState = path.state
  if (state === 'down') return -1
  if (state === 'probing') return PROBING_TIER
  const backup = path.preference === 'backup' ? 2 : 0
  return backup + (state === 'degraded' ? 1 : 0)
}

/** The best tier present among `paths` (-1 if none is usable). */
export function bestTier (paths: readonly Path[]): number {
  let best = -1
  for (let i = 0; i < paths.length; i++) {
    const t = tierOf(paths[i]!)
    if (t >= 0 && (best < 0 || t < best)) best = t
  }
  return best
}

/** True when `path` belongs to the tier the schedulers may use now. */
export function isInTier (path: Path, tier: number): boolean {
  return tier >= 0 && tierOf(path) === tier
}

/**
 * `auto`: while the path where the unit would arrive first (propagation + queue at the planned
 * rate + expected repair cost) has a short queue, that path (ECF-like: lowest latency, no
 * reordering). Once its queue passes `fillThresholdMs` the flow wants more than one path gives,
 * so the unit goes to the path with the shortest queue: every path stays busy and the delay
 * skew is left to the reorder buffer. A path whose standing queue is over `queueBudgetMs`, or
 * whose queue is over the burst budget or most of the queue at which it was seen overflowing,
 * is skipped; if all are, the unit is
 * refused: that keeps bottleneck queues short and lets the inner flow see congestion that
 * repairs would otherwise hide.
 */
export class AutoScheduler implements Scheduler {
  readonly kind = 'auto'
  /** Units refused because every path was over its queue budget. */
  refused = 0
  /** Units held back on a paced path so they would not arrive in a near tie with the unit before (see pick). */
  spaced = 0
  private lastPath: Path | undefined
  private lastArrivalMs = -Infinity
  /** When the unit of the latest `pick` is expected to arrive (one-way frame when every candidate has one; after any spacing hold). */
  get plannedArrivalMs (): number { return this.lastArrivalMs }
  /**
   * Keep units in order across paths of the same base delay: refuse a unit rather than send it
   * on a path where it arrives later than on a path of that delay that a queue budget skipped
   * (overtakesSkipped), and feed only one such path at a time while their rates are in startup
   * (hasEarlierStartupPeer). Off by default; the simulator's tunnel, which drops what is
   * refused, turns it on.
   */
  keepsEqualDelayOrder = false
  /** Units refused by keepsEqualDelayOrder. */
  refusedForOrder = 0
  /**
   * A path in rate startup is skipped once its modelled queue passes this (Infinity, the default:
   * never; its rate is a guess, so its model is no proof of congestion). The simulator's tunnel
   * sets BURST_BUDGET_MS: with no ceiling, a path that entered startup late (l2, while the inner
   * flow's slow start was already at 300-580 packets) took the whole burst, its model went to
   * 800 ms and its 100-packet buffer overflowed 1200 times in a second; the flow's cuts and RTO
   * there left it window-limited for the next ten seconds.
   */
  startupQueueCapMs = Infinity
  /**
   * A paced path is not held to the overflow ceiling (OVERFLOW_QUEUE_SHARE of Path.overflowQueueMs):
   * that ceiling is a bottleneck buffer, measured in one-way queueing delay, while a paced
   * path's modelled queue is mostly our own pace queue, which no bottleneck buffer holds (the
   * pacer lets out a burst's worth at a time). The queue and burst budgets still bound it.
   * Applied there, a ceiling learnt from rate startup's overflow in the first second (l1 at
   * 57 ms in the simulator, depending on how the inner flow's first windows fell) capped every
   * later burst at ~54 ms of pace queue for the rest of the run: refused at cwnd ~180 against a
   * ~260-packet bond, 5 % loss 22-24 Mbit/s when the inner flow opened with a handshake, where
   * the first window's other split never set l1's ceiling (28.0-28.3). Off by default (the VPN
   * keeps its behaviour); the simulator's gst design turns it on.
   */
  pacedIgnoresOverflow = false
  /**
   * More standing queue allowed on every path while a usable path loses at least LOSSY_PATH_RATIO
   * at random (0, the default: none). The standing budget is there so a loss-based inner flow,
   * cut to 0.7 of its window by a refusal, still covers the bond's bandwidth-delay product; holes
   * waiting for a repair lengthen that flow's round trip (the simulator's 5 % loss on l2: holds of
   * 100-140 ms), so at 40 ms it was refused at cwnd ~280 and cut to ~200 against the ~250 the bond
   * needs, for 2-3 s after every refusal (27.8-28.4 Mbit/s against the 28 target; with 20 ms
   * more, 28.4-28.6). Only while a path is lossy: always 60 ms cost the cut-busy stall 330 ms
   * (the failing path's repairs queue behind the surviving path's deeper pace queue). The
   * simulator's gst design sets 20; the VPN keeps 0.
   */
  lossyBudgetExtraMs = 0

  /**
   * `bottleneckBudgetMs`: a path whose modelled queue (outside rate startup) is over it is
   * skipped, so the caller holds the excess in its own queue instead of the bottleneck's (see
   * BOTTLENECK_BUDGET_MS); Infinity (the default) for callers that drop what is refused. It
   * applies to the paths of least propagation delay, where sparse flows go; the others (whose
   * queue no sparse flow meets) get `slowerPathBudgetMs`, which rides out more of a busy
   * host's late wake-ups before their links run dry.
   */
  constructor (readonly queueBudgetMs = QUEUE_BUDGET_MS, readonly fillThresholdMs = FILL_THRESHOLD_MS, readonly bottleneckBudgetMs = Infinity,
    readonly slowerPathBudgetMs = bottleneckBudgetMs) {}

  /** Propagation delay to compare paths by: one-way when every candidate has it (exact differences). */
  private static baseOf (path: Path, isOneWay: boolean): number {
    return isOneWay ? path.relativeBaseDelayMs() : path.baseDelayMs()
  }

  /** The bottleneck budget of `path`, given the least base delay among the candidates. */
  private budgetOf (path: Path, isOneWay: boolean, minBaseMs: number): number {
    return AutoScheduler.baseOf(path, isOneWay) <= minBaseMs + SAME_DELAY_MS ? this.bottleneckBudgetMs : this.slowerPathBudgetMs
  }

  /** Whether every usable path of the best tier has a one-way baseline, and the least base delay among them. */
  private candidates (paths: readonly Path[], tier: number): { isOneWay: boolean, minBaseMs: number } {
    let isOneWay = true
    for (let i = 0; i < paths.length; i++) {
      if (isInTier(paths[i]!, tier) && !Number.isFinite(paths[i]!.delay.minRelMs)) isOneWay = false
    }
    let minBaseMs = Infinity
    for (let i = 0; i < paths.length; i++) if (isInTier(paths[i]!, tier)) minBaseMs = Math.min(minBaseMs, AutoScheduler.baseOf(paths[i]!, isOneWay))
    this.scratch.isOneWay = isOneWay
    this.scratch.minBaseMs = minBaseMs
    let isLossy = false
    if (this.lossyBudgetExtraMs > 0) for (let i = 0; i < paths.length; i++) if (isInTier(paths[i]!, tier) && paths[i]!.loss.lossRatio >= LOSSY_PATH_RATIO) isLossy = true
    this.scratch.isLossy = isLossy
    return this.scratch
  }

  private readonly scratch = { isOneWay: true, minBaseMs: Infinity, isLossy: false }
  /**
   * Whether another candidate of the same (measured) base delay as `path`, and listed before it,
   * is in rate startup too. In startup a path's rate is a guess (2 Mbit/s at first, doubling per
   * round) and its bottleneck queue is not in the model, so two such paths fed at once swap
   * units at every turn (a third of what equal-delay runs held for reordering); one at a time,
   * the next starts once the first knows its rate. Paths of other delays ramp up together.
   */
  private hasEarlierStartupPeer (paths: readonly Path[], path: Path, tier: number, isOneWay: boolean): boolean {
    if (!path.rtt.hasSample()) return false
    const baseMs = AutoScheduler.baseOf(path, isOneWay)
    for (let i = 0; i < paths.length; i++) {
      const other = paths[i]!
      if (other === path) return false
      if (isInTier(other, tier) && other.rate.inStartup && other.rtt.hasSample() &&
        Math.abs(AutoScheduler.baseOf(other, isOneWay) - baseMs) <= SAME_DELAY_MS) return true
    }
    return false
  }

  private readonly skippedPaths: Path[] = []
  private readonly skippedArrivalMs: number[] = []

  /**
   * Whether a path of the same base delay as `best` that a budget skipped would have delivered
   * the unit earlier. Sending it on `best` anyway reorders: the units after it go back to the
   * skipped path once its queue drains under the budget, and they overtake it (on paths of equal
   * delay this dodge was nearly every unit the reorder buffer held: l1 just over its standing
   * budget, the unit sent behind 70-150 ms of queue on l2). The budget means the bond is
   * congested; refusing says so to the inner flow, as when every path is over it. Paths of
   * longer delay are filled on purpose (the delay skew is the reorder buffer's job).
   */
  private overtakesSkipped (best: Path, arrivalMs: number, skipped: number, isOneWay: boolean): boolean {
    const baseMs = AutoScheduler.baseOf(best, isOneWay)
    for (let i = 0; i < skipped; i++) {
      const other = this.skippedPaths[i]!
      if (Math.abs(AutoScheduler.baseOf(other, isOneWay) - baseMs) <= SAME_DELAY_MS && this.skippedArrivalMs[i]! < arrivalMs) return true
    }
    return false
  }

  pick (paths: readonly Path[], bytes: number, nowMs: number, out: Path[]): number {
    const tier = bestTier(paths)
    // Arrival times compare on one-way delays when every candidate has them (exact differences).
    const { isOneWay, minBaseMs } = this.candidates(paths, tier)
    let first: Path | undefined
    let firstMs = Infinity
    let firstQueueMs = 0
    let shortest: Path | undefined
    let shortestMs = Infinity
    let shortestArrivalMs = Infinity
    let skipped = 0
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!
      if (!isInTier(path, tier)) continue
      const queueMs = path.queueDelayMs(0, nowMs)
      const arrivalMs = path.expectedArrivalMs(bytes, nowMs) + (isOneWay ? path.relativeBaseDelayMs() - path.baseDelayMs() : 0)
      if (this.keepsEqualDelayOrder && path.rate.inStartup && this.hasEarlierStartupPeer(paths, path, tier, isOneWay)) continue
      // While a path's rate is still in startup its capacity is unknown, so a full-looking model
      // is no proof of congestion: it stays a candidate whatever its queue.
      if (path.rate.inStartup && queueMs > this.startupQueueCapMs) {
        if (this.keepsEqualDelayOrder) { this.skippedPaths[skipped] = path; this.skippedArrivalMs[skipped++] = arrivalMs }
        continue
      }
      if (!path.rate.inStartup) {
        const overflowCeilingMs = this.pacedIgnoresOverflow && path.isPacedNow() ? Infinity : OVERFLOW_QUEUE_SHARE * path.overflowQueueMs
        if (queueMs > Math.min(this.budgetOf(path, isOneWay, minBaseMs), BURST_BUDGET_MS, overflowCeilingMs) ||
          path.standingQueueMs(nowMs) > this.queueBudgetMs + (this.scratch.isLossy ? this.lossyBudgetExtraMs : 0)) {
          if (this.keepsEqualDelayOrder) { this.skippedPaths[skipped] = path; this.skippedArrivalMs[skipped++] = arrivalMs }
          continue
        }
      }
      if (arrivalMs < firstMs) { firstMs = arrivalMs; first = path; firstQueueMs = queueMs }
      const withUnitMs = path.queueDelayMs(bytes, nowMs)
      if (withUnitMs < shortestMs) { shortestMs = withUnitMs; shortest = path; shortestArrivalMs = arrivalMs }
    }
    const isFirst = first !== undefined && firstQueueMs <= this.fillThresholdMs
    const best = isFirst ? first : shortest
    if (!best) { if (tier >= 0) this.refused++; return 0 }
    const bestArrivalMs = isFirst ? firstMs : shortestArrivalMs
    if (skipped > 0 && this.overtakesSkipped(best, bestArrivalMs, skipped, isOneWay)) { this.refused++; this.refusedForOrder++; return 0 }
    this.spaceFromLast(best, bestArrivalMs, bytes, nowMs)
    out[0] = best
    return 1
  }

  /**
   * After `pick` refused a unit of `bytes` for the bottleneck budget: the earliest time a usable
   * path's modelled queue is back under it (nowMs if one is already, Infinity when no path is
   * usable or none has a finite budget). The caller wakes then to drain its queue, so the links
   * stay busy with only the budget's worth queued at their bottlenecks.
   */
  nextRoomMs (paths: readonly Path[], nowMs: number): number {
    if (!Number.isFinite(this.bottleneckBudgetMs) && !Number.isFinite(this.slowerPathBudgetMs)) return Infinity
    const tier = bestTier(paths)
    const { isOneWay, minBaseMs } = this.candidates(paths, tier)
    let atMs = Infinity
    for (let i = 0; i < paths.length; i++) {
      const path = paths[i]!
      if (!isInTier(path, tier)) continue
      const overMs = path.rate.inStartup ? 0 : path.queueDelayMs(0, nowMs) - this.budgetOf(path, isOneWay, minBaseMs)
      atMs = Math.min(atMs, nowMs + Math.max(0, overMs))
    }
    return atMs
  }

  /**
   * Units split over paths of (nearly) equal delay arrive interleaved, and two consecutive units
   * on different paths are often expected within a fraction of a millisecond of each other,
   * where the model's error (a few tenths of a millisecond) decides their order at the receiver:
   * most units of the slower path then waited in the reorder buffer. So a unit that would arrive
   * within SPACING of the unit before it, on another path, is held on its (paced) path until
   * SPACING after it. Both paths then send at their rates, so their arrivals keep that phase
   * and the hold is rarely needed again; a clear inversion (the delay skew of unequal paths) is
   * left to the reorder buffer. SPACING is 0.4 of the unit's serialisation on the faster of the
   * two paths, so the faster path's grid keeps room for it on both sides.
   */
  private spaceFromLast (best: Path, arrivalMs: number, bytes: number, nowMs: number): void {
    const last = this.lastPath
    let atMs = arrivalMs
    if (last !== undefined && last !== best && last.state !== 'down' && best.isPacedNow()) {
      const spacingMs = (0.4 * bytes * 8000) / Math.max(last.planningRateBitsPerSec(), best.planningRateBitsPerSec())
      const gapMs = arrivalMs - this.lastArrivalMs
      if (gapMs > -spacingMs && gapMs < spacingMs - 1e-6) {
        best.holdNext(bytes, spacingMs - gapMs, nowMs)
        atMs = this.lastArrivalMs + spacingMs
        this.spaced++
      }
    }
    this.lastPath = best
    this.lastArrivalMs = atMs
  }
}

/**
 * For a unit of a sparse flow (a ping, a keystroke, the acks of a download) that the caller sends
 * ahead of the bulk waiting in its pace queues (fq_codel's sparse-flow idea): the usable path of
 * the best tier where it arrives first, whatever the bulk queue in our pacer (it skips it), and
 * regardless of queue budgets (a sparse flow adds next to nothing). With `redundant`/`weighted`
 * the caller uses `pick` as usual. Returns 0 only when no path is usable.
 */
export function pickSparse (paths: readonly Path[], bytes: number, nowMs: number, out: Path[]): number {
  const tier = bestTier(paths)
  let best: Path | undefined
  let bestMs = Infinity
  for (let i = 0; i < paths.length; i++) {
    const path = paths[i]!
    if (!isInTier(path, tier)) continue
    const arrivalMs = path.sparseArrivalMs(bytes, nowMs)
    if (arrivalMs < bestMs) { bestMs = arrivalMs; best = path }
  }
  if (!best) return 0
  out[0] = best
  return 1
}

/**
 * Whether another usable path measured the same base delay as `path` (within SAME_DELAY_MS, one-way
 * when both have it): units split between such paths arrive interleaved, so their order rests on
 * the queue model alone (see AutoScheduler.keepsEqualDelayOrder). False until both have an RTT sample.
 */
export function hasSameDelayPeer (paths: readonly Path[], path: Path): boolean {
  if (!path.rtt.hasSample()) return false
  for (let i = 0; i < paths.length; i++) {
    const other = paths[i]!
    if (other === path || other.state === 'down' || !other.rtt.hasSample()) continue
    const isOneWay = Number.isFinite(path.delay.minRelMs) && Number.isFinite(other.delay.minRelMs)
    const a = isOneWay ? path.relativeBaseDelayMs() : path.baseDelayMs()
    const b = isOneWay ? other.relativeBaseDelayMs() : other.baseDelayMs()
    if (Math.abs(a - b) <= SAME_DELAY_MS) return true
  }
  return false
}

export type WeightedMethod = 'round-robin' | 'random'

/**
 * `weighted`: static shares from each path's weight (e.g. 75/25, or the configured rates).
 * `round-robin` is smooth weighted round robin (deterministic, evenly interleaved);
 * `random` picks with probability proportional to weight using the injected random source.
 */
export class WeightedScheduler implements Scheduler {
  readonly kind = 'weighted'
  private credit = new Map<Path, number>()

  constructor (readonly method: WeightedMethod = 'round-robin', private readonly random: () => number = Math.random) {}

  pick (paths: readonly Path[], _bytes: number, _nowMs: number, out: Path[]): number {
    const tier = bestTier(paths)
    let total = 0
    for (let i = 0; i < paths.length; i++) if (isInTier(paths[i]!, tier)) total += Math.max(0, paths[i]!.weight)
    if (total <= 0) return this.pickFirst(paths, tier, out)
    let chosen: Path | undefined
    if (this.method === 'random') {
      let r = this.random() * total
      for (let i = 0; i < paths.length; i++) {
        const path = paths[i]!
        if (!isInTier(path, tier)) continue
        chosen = path
        r -= Math.max(0, path.weight)
        if (r < 0) break
      }
    } else {
      let bestCredit = -Infinity
      for (let i = 0; i < paths.length; i++) {
        const path = paths[i]!
        if (!isInTier(path, tier)) continue
        const c = (this.credit.get(path) ?? 0) + Math.max(0, path.weight)
        this.credit.set(path, c)
        if (c > bestCredit) { bestCredit = c; chosen = path }
      }
      if (chosen) this.credit.set(chosen, bestCredit - total)
    }
    if (!chosen) return 0
    out[0] = chosen
    return 1
  }

  private pickFirst (paths: readonly Path[], tier: number, out: Path[]): number {
    for (let i = 0; i < paths.length; i++) if (isInTier(paths[i]!, tier)) { out[0] = paths[i]!; return 1 }
    return 0
  }
}

/**
 * `redundant`: every unit on every usable path of the best preference (primary, else backup,
 * else probing): lossless failover at the cost of capacity. Degraded paths are kept: a copy
 * over a lossy path is what redundancy is for, and a path that loses half of what it gets
 * because redundant sends it more than its rate would otherwise drop out of the set.
 */
export class RedundantScheduler implements Scheduler {
  readonly kind = 'redundant'
  pick (paths: readonly Path[], _bytes: number, _nowMs: number, out: Path[]): number {
    const tier = bestTier(paths)
    if (tier < 0) return 0
    // Tiers come in pairs (up, degraded) per preference; probing (4) stands alone.
    const preference = tier >= PROBING_TIER ? PROBING_TIER : tier - (tier % 2)
    let n = 0
    for (let i = 0; i < paths.length; i++) {
      const t = tierOf(paths[i]!)
      if (t === preference || (preference < PROBING_TIER && t === preference + 1)) out[n++] = paths[i]!
    }
    return n
  }
}

export function createScheduler (kind: SchedulerKind, random: () => number = Math.random): Scheduler {
  switch (kind) {
    case 'auto': return new AutoScheduler()
    case 'weighted': return new WeightedScheduler('round-robin', random)
    case 'redundant': return new RedundantScheduler()
  }
}
