import { EventQueue, seededRandom } from './event-queue.js'
import { Link, type LinkSpec } from './link.js'
import { TcpSender, TcpReceiver, SEGMENT_BYTES, ACK_BYTES } from './tcp.js'
import { TunnelEnd, type TunnelDesign, type TunnelPacket, type UnitEvent } from './tunnel.js'

/** Sees every data unit's events at the sending end and at the receiving end (bench/sim/hold-trace.ts, event-trace.ts). */
export interface UnitObserver {
  onSender: (e: UnitEvent) => void
  onReceiver: (e: UnitEvent) => void
}

export const L1: LinkSpec = { rateBitsPerSec: 20e6, delayMs: 10, jitterMs: 0, queuePackets: 100, lossRatio: 0 }
export const L2: LinkSpec = { rateBitsPerSec: 10e6, delayMs: 60, jitterMs: 0, queuePackets: 100, lossRatio: 0 }

export interface Scenario {
  name: string
  links: LinkSpec[]
  durationMs: number
  /** Goodput is measured from here to the end (skips slow start). */
  measureFromMs: number
  /** Application rate at start (0 = bulk) and later changes. */
  appRateBitsPerSec?: number
  appChanges?: { atMs: number, rateBitsPerSec: number }[]
  /** Cut both directions of a link at `atMs`, restore at `restoreMs`. */
  cut?: { link: number, atMs: number, restoreMs: number }
  /**
   * The inner flow opens with a TCP handshake (TcpSender.open: its first window leaves once the
   * SYN-ACK is back, as every real TCP's does); false: its first window leaves at 1 ms, before the
   * tunnel has an RTT sample of any path (the model before session 7).
   */
  innerHandshake?: boolean
}

export interface ScenarioResult {
  scenario: string
  design: string
  goodputBitsPerSec: number
  /** Goodput / sum of link rates. */
  share: number
  /** Longest gap between deliveries to the application inside the measurement (or cut) window. */
  longestStallMs: number
  /** After a restore: time until the restored link delivered data again (NaN if never). */
  backInUseMs: number
  /** Packets that waited in the reorder buffer, of them those released by giving up a lost packet's
   * hole (so `held - heldBehindLoss` waited for reordering alone), holes skipped, out-of-order deliveries to the flow. */
  held: number
  heldBehindLoss: number
  skipped: number
  outOfOrder: number
  repairs: number
  /** Units that arrived after the reorder buffer had skipped their hole (repairs that came too late, mostly). */
  lateArrivals: number
  /** Units a failing path handed back that were not repaired, as the repair would have come too late (TunnelDesign.dropsLateRepairs). */
  lateRepairsDropped: number
  refused: number
  /** Packets the emulated links dropped (queue overflow, random loss, cut), forward direction. */
  linkDrops: number
  /** Of the tunnel's nacked packets, those judged overflow and left to the inner flow. */
  overflowLosses: number
  tcpRetransmits: number
  tcpRtos: number
  /** FEC: parities sent (forward direction) and units rebuilt from them that the reorder buffer took. */
  fecParities: number
  fecRebuilt: number
  /** Per 100 ms bin: data Mbit/s received on each path, and goodput. */
  binMs: number
  pathMbps: number[][]
  goodputMbps: number[]
}

const BIN_MS = 100

/** What a trace callback sees every `traceEveryMs` (bench/sim/main.ts --trace prints it). */
export interface TraceView {
  nowMs: number
  sender: TunnelEnd
  receiver: TunnelEnd
  forward: Link<TunnelPacket>[]
  tcp: TcpSender
  /** Segments delivered in order to the receiving application so far. */
  delivered: number
}

export function runScenario (
  scenario: Scenario, design: TunnelDesign, seed = 1, trace?: { everyMs: number, onSample: (view: TraceView) => void }, holds?: UnitObserver,
): ScenarioResult {
  const events = new EventQueue()
  const random = seededRandom(seed)
  const n = scenario.links.length
  const a = new TunnelEnd(design, n, events, 'a>')
  const b = new TunnelEnd(design, n, events, 'b>')
  a.peer = b; b.peer = a
  if (holds) {
    a.onUnit = (e) => holds.onSender(e)
    b.onUnit = (e) => holds.onReceiver(e)
  }
  const forward = scenario.links.map((spec, i) => new Link<TunnelPacket>(`l${i + 1}>`, spec, events, random, (p, bytes) => b.receive(p, bytes)))
  const reverse = scenario.links.map((spec, i) => new Link<TunnelPacket>(`l${i + 1}<`, spec, events, random, (p, bytes) => a.receive(p, bytes)))
  a.outLinks = forward
  b.outLinks = reverse

  const sender = new TcpSender(0, events, (seg) => a.sendInner(seg, seg.isSyn === true ? ACK_BYTES : SEGMENT_BYTES))
  const receiver = new TcpReceiver(0, events, (seg) => b.sendInner(seg, ACK_BYTES))
  a.onInner = (seg) => { if (seg.isAck) sender.onAck(seg) }
  b.onInner = (seg) => { if (!seg.isAck) receiver.onSegment(seg) }

  const stallFromMs = scenario.cut ? scenario.cut.atMs : scenario.measureFromMs
  const stallToMs = scenario.cut ? scenario.cut.restoreMs + 1000 : scenario.durationMs
  let longestStallMs = 0
  let lastDeliveryMs = NaN
  let measuredSegments = 0
  let binSegments = 0
  receiver.onDeliver = (now, segments) => {
    if (now >= scenario.measureFromMs) measuredSegments += segments
    binSegments += segments
    if (now >= stallFromMs && now <= stallToMs && !Number.isNaN(lastDeliveryMs)) {
      longestStallMs = Math.max(longestStallMs, now - Math.max(lastDeliveryMs, stallFromMs))
    }
    lastDeliveryMs = now
  }

  const pathMbps: number[][] = scenario.links.map(() => [])
  const goodputMbps: number[] = []
  const lastBytes = scenario.links.map(() => 0)
  const bin = (): void => {
    b.traces.forEach((t, i) => {
      pathMbps[i]!.push(((t.dataBytes - lastBytes[i]!) * 8) / (BIN_MS * 1000))
      lastBytes[i] = t.dataBytes
    })
    goodputMbps.push((binSegments * SEGMENT_BYTES * 8) / (BIN_MS * 1000))
    binSegments = 0
    events.after(BIN_MS, bin)
  }
  events.at(BIN_MS, bin)

  if (scenario.cut) {
    const { link, atMs, restoreMs } = scenario.cut
    events.at(atMs, () => { forward[link]!.isCut = true; reverse[link]!.isCut = true })
    events.at(restoreMs, () => {
      forward[link]!.isCut = false; reverse[link]!.isCut = false
      b.traces[link]!.markMs = restoreMs
    })
  }
  if (scenario.appRateBitsPerSec) sender.appRateBitsPerSec = scenario.appRateBitsPerSec
  for (const change of scenario.appChanges ?? []) events.at(change.atMs, () => sender.setAppRate(change.rateBitsPerSec))

  if (trace) {
    const sample = (): void => {
      trace.onSample({ nowMs: events.nowMs, sender: a, receiver: b, forward, tcp: sender, delivered: receiver.deliveredSegments })
      events.after(trace.everyMs, sample)
    }
    events.at(trace.everyMs, sample)
  }
  a.start(); b.start()
  events.at(1, () => { if (scenario.innerHandshake === true) sender.open(); else sender.start() })
  events.run(scenario.durationMs)
  // A stall still running at the end of the window counts too.
  if (!Number.isNaN(lastDeliveryMs) && stallToMs > lastDeliveryMs) longestStallMs = Math.max(longestStallMs, Math.min(stallToMs, scenario.durationMs) - Math.max(lastDeliveryMs, stallFromMs))

  let backInUseMs = NaN
  if (scenario.cut) {
    backInUseMs = b.traces[scenario.cut.link]!.firstDataAfterMarkMs - scenario.cut.restoreMs
  }
  const capacity = scenario.links.reduce((sum, l) => sum + l.rateBitsPerSec, 0)
  const goodput = (measuredSegments * SEGMENT_BYTES * 8 * 1000) / (scenario.durationMs - scenario.measureFromMs)
  const reorderStats = b.reorder?.stats
  return {
    scenario: scenario.name,
    design: design.name,
    goodputBitsPerSec: goodput,
    share: goodput / capacity,
    longestStallMs,
    backInUseMs,
    held: reorderStats?.held ?? 0,
    heldBehindLoss: reorderStats?.heldBehindLoss ?? 0,
    skipped: reorderStats?.skipped ?? 0,
    outOfOrder: receiver.outOfOrder,
    repairs: a.repairs + b.repairs,
    lateArrivals: reorderStats?.late ?? 0,
    lateRepairsDropped: a.lateRepairsDropped + b.lateRepairsDropped,
    refused: a.refused + b.refused,
    linkDrops: forward.reduce((n, l) => n + l.dropped, 0),
    overflowLosses: a.paths.reduce((n, p) => n + p.counters.overflowPackets, 0),
    tcpRetransmits: sender.retransmits,
    tcpRtos: sender.rtoEvents,
    fecParities: a.fecEncoders.reduce((n, e) => n + e.parities, 0),
    fecRebuilt: b.fecRebuiltUnits,
    binMs: BIN_MS,
    pathMbps,
    goodputMbps,
  }
}

