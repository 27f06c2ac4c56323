import { L1, L2, type Scenario } from './scenario.js'

/**
 * The scenarios of issue 4 (l1 = 20 Mbit/s 10 ms, l2 = 10 Mbit/s 60 ms one-way, 100-packet queues);
 * `innerHandshake`: the inner flow opens with a SYN / SYN-ACK (Scenario.innerHandshake).
 */
export function issueScenarios (scale = 1, innerHandshake = true): Scenario[] {
  const s = (ms: number): number => Math.round(ms * scale)
  return withHandshake(innerHandshake, [
    { name: 'aggregate', links: [L1, L2], durationMs: s(20_000), measureFromMs: s(5_000) },
    { name: 'loss5-l2', links: [L1, { ...L2, lossRatio: 0.05 }], durationMs: s(20_000), measureFromMs: s(5_000) },
    { name: 'cut-busy', links: [L1, L2], durationMs: s(16_000), measureFromMs: s(4_000), cut: { link: 1, atMs: s(8_000), restoreMs: s(12_000) } },
    {
      name: 'cut-idle', links: [L1, L2], durationMs: s(16_000), measureFromMs: s(4_000), appRateBitsPerSec: 4e6,
      appChanges: [{ atMs: s(8_000) + 150, rateBitsPerSec: 0 }], cut: { link: 1, atMs: s(8_000), restoreMs: s(12_000) },
    },
    { name: 'equal-delay', links: [{ ...L1, delayMs: 35 }, { ...L2, delayMs: 35 }], durationMs: s(20_000), measureFromMs: s(5_000) },
  ])
}

function withHandshake (innerHandshake: boolean, scenarios: Scenario[]): Scenario[] {
  return scenarios.map((sc) => ({ ...sc, innerHandshake }))
}
