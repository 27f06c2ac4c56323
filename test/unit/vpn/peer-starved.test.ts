// Two Peers over two fake links (10 and 60 ms one way, each drained at its rate) on a fake clock,
// `auto`: the fast path's rate estimate left at a probe's rate (0.1 Mbit/s) while a flow the slow
// path can carry goes on it. Without a new search the fast path never gets a packet to prove more; with it
// (StarvedPaths, src/vpn/peer.ts) it searches its rate again within a couple of check intervals
// and carries data. No sockets, no keys.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { MessageKind, SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'
import { settledPath } from '../../helpers/settled-path.js'
import { STARVED_CHECK_MS } from '../../../src/vpn/starved-path.js'

const session = (): VpnSession => ({ seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} }) as unknown as VpnSession
const ONE_WAY_MS = [10, 60]
const RATE_BPS = [20e6, 10e6]

interface InFlight { atMs: number, to: Peer, d: Buffer }

function run (seconds: number): { dataOnFast: number[] } {
  let nowMs = 0
  const queue: InFlight[] = []
  const busyUntil = [0, 0]
  const dataOnFast: number[] = [] // per second: data messages the sender put on the fast path
  const ends: Peer[] = []
  for (let e = 0; e < 2; e++) {
    const me = e
    ends.push(new Peer({
      send: (pathId, d, length) => {
        if (me === 0 && pathId === 0 && d[SEALED_HEADER_BYTES] === MessageKind.Data) dataOnFast[Math.floor(nowMs / 1000)] = (dataOnFast[Math.floor(nowMs / 1000)] ?? 0) + 1
        // Each link drains at its rate (a bottleneck queue in front of its delay).
        const start = Math.max(nowMs, busyUntil[pathId]!)
        busyUntil[pathId] = start + (length * 8000) / RATE_BPS[pathId]!
        queue.push({ atMs: busyUntil[pathId]! + ONE_WAY_MS[pathId]!, to: ends[1 - me]!, d: Buffer.from(d.subarray(0, length)) })
      },
      deliver: () => {},
    }, { scheduler: 'auto', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'fast' }, { id: 1, name: 'slow' }]))
    ends[e]!.startSession(session(), 0, 0)
    // The sender's fast path left at a probe's rate (its only delivery sample), out of startup.
    for (const [id, oneWayMs] of ONE_WAY_MS.entries()) settledPath(ends[e]!, id, oneWayMs, e === 0 && id === 0 ? 0.1e6 : RATE_BPS[id]!)
  }
  const packet = innerPacket(1400)
  for (let t = 1; t <= seconds * 1000; t++) {
    nowMs = t
    // 5.6 Mbit/s of bulk: within what the slow path drains, as an ACK-clocked flow on it would be.
    if (t % 2 === 0) ends[0]!.sendInner(packet, 0, packet.length, t)
    queue.sort((a, b) => a.atMs - b.atMs)
    while (queue.length > 0 && queue[0]!.atMs <= t) { const m = queue.shift()!; m.to.onMessage(m.d, m.d.length, t) }
    if (t % 5 === 0) { ends[0]!.tick(t); ends[1]!.tick(t) }
  }
  return { dataOnFast }
}

test('a fast path left at a probe\'s rate searches again and carries data within a few check intervals', { timeout: 60_000 }, () => {
  const { dataOnFast } = run(4)
  const late = dataOnFast[3] ?? 0
  assert.ok(late >= 400, `the fast path carried ${late} data messages in the 4th second (per second: ${dataOnFast.join(', ')})`)
  assert.ok((dataOnFast[0] ?? 0) < 50, `starved at first: ${dataOnFast[0] ?? 0} in the first second`)
  assert.ok(2 * STARVED_CHECK_MS < 3000, 'two check intervals fit before the 4th second (the first only takes the count)')
})
