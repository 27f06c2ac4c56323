import {
  AutoScheduler, Path, PathReceiver, ReorderBuffer, FlowSequencer, createFeedback, delaySpreadOf, HoldTimeEstimator,
  PACING_BURST_BYTES, type PathFeedback, type Scheduler,
} from '../../src/multipath/index.js'
import type { EventQueue } from './event-queue.js'
import type { Link } from './link.js'
import type { TcpSegment } from './tcp.js'

export const PROBE_BYTES = 64
export const FEEDBACK_BYTES = 64
/** How often each tunnel end runs its housekeeping (path updates, probes, hold-time inputs). */
const TICK_MS = 5
const UNIT_STORE_SIZE = 1 << 16

export interface TunnelPacket {
  kind: 'data' | 'probe' | 'feedback'
  /** Which path (index) it travels on. */
  path: number
  pathSeq: number
  txTimeMs: number
  bucket: number
  flowSeq: number
  isRepair: boolean
  inner: TcpSegment | undefined
  /** Feedback: which path of the receiver's peer it is about, and a copy of it. */
  about: number
  feedback: PathFeedback | undefined
}

export interface TunnelDesign {
  name: string
  makeScheduler: () => Scheduler
  /** 'per-flow' = our buckets; 'global' = one sequence for all (MLVPN); 'none' = deliver as it comes (glorytun). */
  reorder: 'per-flow' | 'global' | 'none'
  /** Fixed hold for 'global' (MLVPN has a constant timeout), else adaptive. */
  fixedHoldMs?: number
  /** Re-send nacked and stranded units on another path. */
  repair: boolean
  /** Pace each path at its planned rate (bursts wait in the tunnel, not in the bottleneck queue). */
  pace?: boolean
  /** Configured path rates (the baselines need them; ours runs with none). */
  configuredRates?: number[]
  probeIntervalMs?: number
  downFloorMs?: number
}

interface StoredUnit { id: number, bytes: number, bucket: number, flowSeq: number, inner: TcpSegment }

/** Per-path counters for the plot and the restore measurement. */
export interface PathTrace {
  dataBytes: number
  lastDataRxMs: number
  /** First data arrival at or after `markMs` (NaN until then): measures a restored path back in use. */
  markMs: number
  firstDataAfterMarkMs: number
}

/**
 * One end of the simulated tunnel, driving the real multipath core: scheduler and Path on the
 * way out, PathReceiver, feedback and ReorderBuffer on the way in.
 */
export class TunnelEnd {
  readonly paths: Path[]
  readonly receivers: PathReceiver[]
  readonly reorder: ReorderBuffer<TunnelPacket> | undefined
  readonly traces: PathTrace[]
  peer!: TunnelEnd
  outLinks: Link<TunnelPacket>[] = []
  repairs = 0
  /** Units no path would take (all down, or `auto` found every queue over budget). */
  refused = 0
  /** Delivers inner segments to the local TCP endpoint. */
  onInner: (segment: TcpSegment) => void = () => {}
  private readonly scheduler: Scheduler
  /** Repairs go where they arrive first (pure earliest arrival), whatever the data policy. */
  private readonly repairScheduler: Scheduler
  private readonly sequencer: FlowSequencer
  private readonly chosen: Path[] = []
  private readonly lostUnits: number[] = []
  private readonly store: (StoredUnit | undefined)[] = new Array<StoredUnit | undefined>(UNIT_STORE_SIZE)
  private nextUnitId = 0
  private wakeAtMs = Infinity
  private readonly feedbackAtMs: number[]
  private readonly lastReleaseMs: number[]

  constructor (readonly design: TunnelDesign, pathCount: number, private readonly events: EventQueue, label = '') {
    this.paths = []
    this.receivers = []
    this.traces = []
    this.feedbackAtMs = []
    this.lastReleaseMs = new Array<number>(pathCount).fill(0)
    for (let i = 0; i < pathCount; i++) {
      const rate = design.configuredRates?.[i]
      this.paths.push(new Path(i, {
        name: `${label}l${i + 1}`,
        ...(rate !== undefined ? { weight: rate } : {}),
        ...(design.probeIntervalMs !== undefined ? { probeIntervalMs: design.probeIntervalMs } : {}),
        ...(design.downFloorMs !== undefined ? { downFloorMs: design.downFloorMs } : {}),
        isPaced: design.pace === true,
      }))
      this.receivers.push(new PathReceiver())
      this.traces.push({ dataBytes: 0, lastDataRxMs: -Infinity, markMs: Infinity, firstDataAfterMarkMs: NaN })
      this.feedbackAtMs.push(Infinity)
    }
    this.scheduler = design.makeScheduler()
    this.repairScheduler = new AutoScheduler(undefined, Infinity)
    const buckets = design.reorder === 'global' ? 1 : 64
    this.sequencer = new FlowSequencer(buckets)
    if (design.reorder !== 'none') {
      const holdTime = design.fixedHoldMs !== undefined ? new HoldTimeEstimator(design.fixedHoldMs, design.fixedHoldMs) : undefined
      this.reorder = new ReorderBuffer<TunnelPacket>({
        buckets,
        deliver: (p) => { if (p.inner) this.onInner(p.inner) },
        ...(holdTime ? { holdTime } : {}),
      })
    }
  }

  start (): void {
    const tick = (): void => {
      this.housekeeping()
      this.events.after(TICK_MS, tick)
    }
    tick()
  }

  /** An inner packet to send to the peer. */
  sendInner (inner: TcpSegment, bytes: number): void {
    const now = this.events.nowMs
    const bucket = this.design.reorder === 'global' ? 0 : (inner.flow * 2 + (inner.isAck ? 1 : 0)) % 64
    const n = this.scheduler.pick(this.paths, bytes, now, this.chosen)
    // A refused unit takes no flow sequence, so it leaves no hole for the receiver to wait on.
    if (n === 0) { this.refused++; return }
    const unit: StoredUnit = { id: this.nextUnitId++, bytes, bucket, flowSeq: this.sequencer.next(bucket), inner }
    this.store[unit.id % UNIT_STORE_SIZE] = unit
    this.transmit(unit, n, false, now)
  }

  private sendUnit (unit: StoredUnit, isRepair: boolean, now: number): void {
    const n = (isRepair ? this.repairScheduler : this.scheduler).pick(this.paths, unit.bytes, now, this.chosen)
    if (n === 0) { this.refused++; return }
    this.transmit(unit, n, isRepair, now)
  }

  private transmit (unit: StoredUnit, n: number, isRepair: boolean, now: number): void {
    for (let i = 0; i < n; i++) {
      const path = this.chosen[i]!
      // Paced designs hold a unit until the path's pacer lets it go, so a burst waits here instead
      // of overflowing the bottleneck's buffer (not in rate startup: the rate is not known yet).
      // Stamped now: the wait is part of the path's delay, as the model and the one-way delay count it.
      const isPaced = this.design.pace === true && !path.rate.inStartup
      const releaseMs = isPaced ? Math.max(this.lastReleaseMs[path.id]!, path.pacer.sendTimeMs(unit.bytes, PACING_BURST_BYTES, now)) : now
      this.lastReleaseMs[path.id] = releaseMs
      const seq = path.onSend(unit.bytes, now, this.design.repair ? unit.id : -1)
      const packet: TunnelPacket = {
        kind: 'data', path: path.id, pathSeq: seq, txTimeMs: now, bucket: unit.bucket, flowSeq: unit.flowSeq,
        isRepair, inner: unit.inner, about: -1, feedback: undefined,
      }
      const link = this.outLinks[path.id]!
      if (releaseMs <= now) { link.send(packet, unit.bytes); continue }
      // As the VPN does: the path learns when a queued send really left (its reply deadline and
      // its delay samples leave out the wait in our own queue).
      path.markQueued(seq)
      this.events.at(releaseMs, () => { path.markReleased(seq, this.events.nowMs); link.send(packet, unit.bytes) })
    }
  }

  private resend (unitIds: number[], now: number): void {
    for (const id of unitIds) {
      const unit = this.store[id % UNIT_STORE_SIZE]
      if (!unit || unit.id !== id) continue
      this.repairs++
      this.sendUnit(unit, true, now)
    }
    unitIds.length = 0
  }

  /** A tunnel packet arrived on path `index` (a link from the peer). */
  receive (packet: TunnelPacket, bytes: number): void {
    const now = this.events.nowMs
    if (packet.kind === 'feedback') {
      const path = this.paths[packet.about]!
      path.onFeedback(packet.feedback!, now, this.lostUnits)
      if (this.design.repair) this.resend(this.lostUnits, now)
      this.lostUnits.length = 0
      return
    }
    const receiver = this.receivers[packet.path]!
    receiver.onPacket(packet, bytes, now, packet.kind === 'probe')
    if (receiver.isFeedbackDue(now)) this.sendFeedback(packet.path, now)
    else this.armFeedback(packet.path, receiver.nextFeedbackMs())
    if (packet.kind !== 'data') return
    const trace = this.traces[packet.path]!
    trace.dataBytes += bytes
    trace.lastDataRxMs = now
    if (now >= trace.markMs && Number.isNaN(trace.firstDataAfterMarkMs)) trace.firstDataAfterMarkMs = now
    if (this.reorder) {
      this.reorder.push(packet.bucket, packet.flowSeq, packet, now)
      this.wake(this.reorder.nextDeadlineMs())
    } else if (packet.inner) {
      this.onInner(packet.inner)
    }
  }

  /** Feedback about the peer's path `index` goes back on the same path (so it proves both ways). */
  private sendFeedback (index: number, now: number): void {
    const fb = this.receivers[index]!.writeFeedback(now, createFeedback())
    this.peerLink(index).send({
      kind: 'feedback', path: index, pathSeq: -1, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
      inner: undefined, about: index, feedback: fb,
    }, FEEDBACK_BYTES)
  }

  private peerLink (index: number): Link<TunnelPacket> { return this.outLinks[index]! }

  private armFeedback (index: number, atMs: number): void {
    if (!(atMs < this.feedbackAtMs[index]!)) return
    this.feedbackAtMs[index] = atMs
    this.events.at(atMs, () => {
      if (this.feedbackAtMs[index] !== atMs) return
      this.feedbackAtMs[index] = Infinity
      const r = this.receivers[index]!
      if (r.isFeedbackDue(this.events.nowMs)) this.sendFeedback(index, this.events.nowMs)
      else this.armFeedback(index, r.nextFeedbackMs())
    })
  }

  private wake (atMs: number): void {
    if (!(atMs < this.wakeAtMs)) return
    this.wakeAtMs = atMs
    this.events.at(atMs, () => {
      if (this.wakeAtMs !== atMs) return
      this.wakeAtMs = Infinity
      if (!this.reorder) return
      this.reorder.expire(this.events.nowMs)
      this.wake(this.reorder.nextDeadlineMs())
    })
  }

  private housekeeping (): void {
    const now = this.events.nowMs
    for (const path of this.paths) {
      path.update(now, this.lostUnits)
      if (this.design.repair) this.resend(this.lostUnits, now)
      this.lostUnits.length = 0
      if (path.isProbeDue(now)) {
        const seq = path.onSend(PROBE_BYTES, now)
        this.outLinks[path.id]!.send({
          kind: 'probe', path: path.id, pathSeq: seq, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
          inner: undefined, about: -1, feedback: undefined,
        }, PROBE_BYTES)
      }
    }
    if (this.reorder && this.design.fixedHoldMs === undefined) {
      const { spreadMs, jitterMs } = delaySpreadOf(this.receivers, now)
      this.reorder.holdTime.setSpread(spreadMs, jitterMs)
      this.reorder.expire(now)
      this.wake(this.reorder.nextDeadlineMs())
    }
  }
}
