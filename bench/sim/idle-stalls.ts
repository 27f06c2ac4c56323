// `npm run sim:idle-stalls`: does an idle path keep its rate estimate on a host whose receiver is
// off-CPU now and then? One Path and its PathReceiver, a 10 ms wire each way, a probe every
// 100 ms and now and then one to three small packets (what a new TUN sends); during a stall
// (20-100 ms) arrivals are read at its end. Runs of 6 s from rate startup (its 2 Mbit/s guess)
// and of 20 s from a measured 18 Mbit/s; a run "collapses" when the estimate falls under a
// quarter of where it started (the starved-path mode: from there `auto` gives the path no data,
// so it can never prove more). The baseline is the same runs without stalls. Deterministic
// (seeded); run from a copy of dist/ it measures that copy's build.
import { Path, PathReceiver, createFeedback, type PathFeedback } from '../../src/multipath/index.js'
import { benchArgs } from '../lib/bench-args.js'

const USAGE = 'npm run sim:idle-stalls -- [--runs 100]'
const RUNS = Math.max(1, Math.round(benchArgs(USAGE, { runs: 'number' }).number('runs', 100)))

const ONE_WAY_MS = 10
const STEP_MS = 0.5
const PROBE_EVERY_MS = 100
/** Chance per step that the receiver goes off-CPU (0.0002: one stall per 2.5 s on average). */
const STALL_RATES = [0, 0.0002, 0.002]
const SMALL_BURST_PER_STEP = 0.002

/** A seeded linear congruential generator: every build sees the same runs. */
function random (seed: number): () => number {
  let s = seed
  return () => { s = (s * 1103515245 + 12345) % 2147483648; return s / 2147483648 }
}

interface Outcome { collapsed: number, lowestBps: number }

function runs (stallRate: number, startBps: number, durationMs: number): Outcome {
  let collapsed = 0
  let lowestBps = Infinity
  const rnd = random(1)
  for (let r = 0; r < RUNS; r++) {
    const path = new Path(0)
    const receiver = new PathReceiver()
    if (startBps > 0) path.rate.setFromPacketPair(startBps, 0)
    const initialBps = path.rate.estimateBitsPerSec
    const onWire: { atMs: number, seq: number, txMs: number, bytes: number, isProbe: boolean }[] = []
    const replies: { atMs: number, fb: PathFeedback }[] = []
    let stallUntilMs = -1
    let low = Infinity
    const send = (bytes: number, nowMs: number, isProbe: boolean): void => {
      const seq = path.onSend(bytes, nowMs, isProbe ? -1 : 1)
      onWire.push({ atMs: nowMs + ONE_WAY_MS + rnd(), seq, txMs: nowMs, bytes, isProbe })
    }
    for (let t = 0; t < durationMs; t += STEP_MS) {
      if (t > stallUntilMs && rnd() < stallRate) stallUntilMs = t + 20 + rnd() * 80
      for (let i = 0; i < replies.length; i++) if (replies[i]!.atMs <= t) { path.onFeedback(replies[i]!.fb, t); replies.splice(i--, 1) }
      for (let i = 0; i < onWire.length; i++) {
        const p = onWire[i]!
        if (p.atMs > t || t < stallUntilMs) continue
        receiver.onPacket({ pathSeq: p.seq, txTimeMs: p.txMs }, p.bytes, t, p.isProbe)
        replies.push({ atMs: t + ONE_WAY_MS, fb: receiver.writeFeedback(t, createFeedback()) })
        onWire.splice(i--, 1)
      }
      if (t % PROBE_EVERY_MS === 0) send(64, t, true)
      if (rnd() < SMALL_BURST_PER_STEP) {
        const n = 1 + Math.floor(rnd() * 3)
        for (let k = 0; k < n; k++) send(70 + Math.floor(rnd() * 60), t, false)
      }
      low = Math.min(low, path.rate.estimateBitsPerSec)
    }
    if (low < initialBps / 4) collapsed++
    lowestBps = Math.min(lowestBps, low)
  }
  return { collapsed, lowestBps }
}

console.log(`idle path, ${RUNS} runs per row (a probe every ${PROBE_EVERY_MS} ms, a few small packets, receiver stalls of 20-100 ms)`)
console.log(`${'start'.padEnd(35)} stalls per s   collapsed   lowest estimate Mbit/s`)
for (const [name, startBps, durationMs] of [['rate startup (2 Mbit/s guess), 6 s', 0, 6000], ['measured 18 Mbit/s, 20 s', 18e6, 20_000]] as const) {
  for (const stallRate of STALL_RATES) {
    const o = runs(stallRate, startBps, durationMs)
    const perSec = stallRate * (1000 / STEP_MS)
    console.log(`${name.padEnd(35)} ${perSec.toFixed(1).padStart(12)}   ${`${o.collapsed} / ${RUNS}`.padStart(9)}   ${(o.lowestBps / 1e6).toFixed(3)}${stallRate === 0 ? '  (baseline: no stalls)' : ''}`)
  }
}
