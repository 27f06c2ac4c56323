import { runScenario, type Scenario, type ScenarioResult } from './scenario.js'
import type { TunnelDesign, UnitEvent } from './tunnel.js'
import type { TcpSegment } from './tcp.js'

/**
 * `npm run sim -- --trace-events SCENARIO --from MS --to MS`: one line per event between the two
 * times, to see what a stall is made of: the sending end's units (sent with their planned
 * arrival, repairs, released from a pace queue), the receiving end's arrivals and deliveries to
 * the inner flow, the inner flow's sends and retransmissions, and, checked every millisecond,
 * the paths' states (both ends), holes skipped, repairs that came after their hole was skipped,
 * refused units, repairs not sent for coming too late, RTOs and the reorder hold.
 */
export function traceEvents (scenario: Scenario, design: TunnelDesign, seed: number, fromMs: number, toMs: number, print: (line: string) => void): ScenarioResult {
  const f = (ms: number): string => ms.toFixed(2)
  const log = (nowMs: number, text: string): void => { if (nowMs >= fromMs && nowMs <= toMs) print(`${f(nowMs)} ${text}`) }
  const unit = (e: UnitEvent): string => `l${e.path + 1} b${e.bucket} #${e.flowSeq}${e.isRepair ? ' repair' : ''}`
  const units = {
    onSender: (e: UnitEvent): void => {
      if (e.kind === 'sent') log(e.nowMs, `A sent ${unit(e)} plan ${f(e.value)}`)
      else if (e.kind === 'released' && e.isRepair) log(e.nowMs, `A released ${unit(e)} (link queue ${e.value})`)
    },
    onReceiver: (e: UnitEvent): void => { if (e.kind === 'arrived') log(e.nowMs, `B arrived ${unit(e)}`) },
  }
  let last = ''
  let isWrapped = false
  return runScenario(scenario, design, seed, {
    everyMs: 1,
    onSample: (v) => {
      if (!isWrapped) {
        isWrapped = true
        // The inner flow's segments, as they go into the tunnel and come out of its reorder buffer.
        const tcp = v.tcp as unknown as { transmit: (s: TcpSegment) => void }
        const transmit = tcp.transmit
        tcp.transmit = (s) => { log(v.sender.nowMs(), `TCP ${s.isRetransmit ? 'retransmit' : 'send'} ${s.seq}`); transmit(s) }
        const onInner = v.receiver.onInner
        v.receiver.onInner = (s) => { if (!s.isAck) log(v.receiver.nowMs(), `B delivers ${s.seq}${s.isRetransmit ? ' (retransmission)' : ''}`); onInner(s) }
      }
      const r = v.receiver.reorder?.stats
      const state = `A ${v.sender.paths.map((p) => p.state).join('/')} B ${v.receiver.paths.map((p) => p.state).join('/')} skipped ${r?.skipped ?? 0} ` +
        `late ${r?.late ?? 0} refused ${v.sender.refused} lateRepairsDropped ${v.sender.lateRepairsDropped} rto ${v.tcp.rtoEvents} hold ${Math.round(v.receiver.reorder?.holdTime.holdMs ?? 0)}`
      if (state !== last) log(v.nowMs, `state ${state} cwnd ${Math.round(v.tcp.cwnd)} una ${v.tcp.sndUna}`)
      last = state
    },
  }, units)
}
