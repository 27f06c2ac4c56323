import { AutoScheduler, WeightedScheduler, BURST_BUDGET_MS } from '../../src/multipath/index.js'
import { seededRandom } from './event-queue.js'
import type { TunnelDesign } from './tunnel.js'

/**
 * gst: `auto` scheduler, per-path pacing, per-flow reordering, repair (nack repairs ahead of the pace queue; a
 * failing path's units only while the repair can still fill their holes), FEC on lossy paths, silence timeouts
 * from reply lateness, a late failover repair not lengthening the reorder hold; no rate configured.
 */
export function gstDesign (overrides: Partial<TunnelDesign> = {}): TunnelDesign {
  return { name: 'gst', makeScheduler: () => new AutoScheduler(), reorder: 'per-flow', repair: true, pace: true, fec: true, nackOnFastest: true, keepsEqualDelayOrder: true, repairsAhead: true, startupQueueCapMs: BURST_BUDGET_MS, fecNackWaitMs: 5, countsControlBytes: 'same-delay', packetPair: 'same-delay', boundsStaleCorrections: 'same-delay', pairsOnFirstSample: true, keepsPairRate: true, dropsLateRepairs: true, timeoutFromLateness: true, pacedIgnoresOverflow: true, overflowNeedsRun: true, lossyBudgetExtraMs: 20, ignoresLateRepairs: true, ...overrides }
}

/**
 * glorytun/mud-like: weighted random choice by the configured rates, no reordering, no repair.
 * Failure detection modelled as ~12 s of silence (glorytun#50: idle paths take up to 12 s).
 */
export function glorytunDesign (rates: number[], seed: number): TunnelDesign {
  const random = seededRandom(seed ^ 0x9e3779b9)
  return {
    name: 'glorytun-like', makeScheduler: () => new WeightedScheduler('random', random), reorder: 'none', repair: false,
    configuredRates: rates, probeIntervalMs: 1000, downFloorMs: 12_000,
  }
}

/**
 * MLVPN-like: static weighted round robin by the configured rates, one global reorder buffer with
 * a fixed 500 ms timeout (its REORDER_TIMEOUT), no repair; 30 s link timeout (its default).
 */
export function mlvpnDesign (rates: number[]): TunnelDesign {
  return {
    name: 'mlvpn-like', makeScheduler: () => new WeightedScheduler('round-robin'), reorder: 'global', fixedHoldMs: 500,
    repair: false, configuredRates: rates, probeIntervalMs: 1000, downFloorMs: 30_000,
  }
}
