import {
  AutoScheduler, hasSameDelayPeer, isRepairInTime, Path, PathReceiver, pickSparse, ReorderBuffer, FlowSequencer, createFeedback, delaySpreadOf, repairWaitOf, HoldTimeEstimator,
  PACING_BURST_BYTES, FecEncoder, FecDecoder, type PathFeedback, type Scheduler, type ParityUnit, type RebuiltUnit,
} from '../../src/multipath/index.js'
import type { EventQueue } from './event-queue.js'
import type { Link } from './link.js'
import type { TcpSegment } from './tcp.js'

export const PROBE_BYTES = 64
/** Each packet of a packet pair (TunnelDesign.packetPair): full size, so the gap between them is a whole serialisation. */
export const PAIR_BYTES = 1500
export const FEEDBACK_BYTES = 64
/** A parity's header beyond the longest member it covers (group first sequence, count, length XOR). */
export const PARITY_HEADER_BYTES = 12
/** A path that loses this much or more gets no repair ahead of its pace queue (design.repairsAhead): nothing would repair that copy. */
const AHEAD_MAX_LOSS_RATIO = 0.01
/** How often each tunnel end runs its housekeeping (path updates, probes, hold-time inputs). */
const TICK_MS = 5
const UNIT_STORE_SIZE = 1 << 16

export interface TunnelPacket {
  kind: 'data' | 'probe' | 'feedback' | 'parity' | 'abandon'
  /** Which path (index) it travels on. */
  path: number
  pathSeq: number
  txTimeMs: number
  bucket: number
  flowSeq: number
  isRepair: boolean
  /** A repair of a unit a failing path handed back (overdue or down), not of a nacked one. */
  isFailover?: boolean
  inner: TcpSegment | undefined
  /** Feedback: which path of the receiver's peer it is about, and a copy of it. */
  about: number
  feedback: PathFeedback | undefined
  parity?: ParityUnit
  /** Abandon: (bucket, flowSeq) of units the sender will not repair (drop-tail overflow). */
  abandoned?: { bucket: number, flowSeq: number }[]
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
  /** XOR parity on paths whose measured loss calls for it (src/multipath/fec-*.ts). */
  fec?: boolean
  /** Feedback that nacks something is also sent, without its echo, on the fastest path. */
  nackOnFastest?: boolean
  /**
   * Nack repairs go ahead of the pace queues, on the path where they arrive first that way
   * (pickSparse): a hole holds the whole flow until its repair comes, and behind l1's 40 ms pace
   * queue that was most of the hole's life.
   */
  repairsAhead?: boolean
  /**
   * Longest a new gap's nack waits for a FEC parity that may rebuild it (FecDecoder.nackDelayMs;
   * default its own cap, 30 ms). With repairs ahead of the pace queue a repair is nack + repair
   * over the fast path (~20 ms here), so waiting a whole group for the parity only held holes.
   */
  fecNackWaitMs?: number
  /** `auto` skips a path in rate startup whose modelled queue is over this (AutoScheduler.startupQueueCapMs). */
  startupQueueCapMs?: number
  /** `auto` keeps units in order across paths of equal delay (AutoScheduler.keepsEqualDelayOrder: refuses rather than dodge a budget, one path at a time in rate startup). */
  keepsEqualDelayOrder?: boolean
  /**
   * Our feedback and abandon messages count in a path's queue models (Path.onUnsequencedSend);
   * 'same-delay': only on a path that shares its base delay with another (hasSameDelayPeer), where
   * the order of units split between them rests on the models to a fraction of a packet time.
   */
  countsControlBytes?: boolean | 'same-delay'
  /** Path.boundsStaleCorrections on every path; 'same-delay': on a path that shares its base delay with another. */
  boundsStaleCorrections?: boolean | 'same-delay'
  /**
   * Each path's rate is measured with a packet pair before it carries data (Path.measuresPacketPair),
   * not guessed in startup; 'same-delay': only a path that shares its base delay with another
   * (elsewhere the pair's full-size probes only perturb the start).
   */
  packetPair?: boolean | 'same-delay'
  /**
   * A pair goes out as soon as the feedback that makes it due arrives (the path's first RTT
   * sample), not at the next housekeeping tick: sent at the tick, l1's pair queued behind the
   * 20 units the inner flow sent in between, was measured 3 ms after l2's, and l2's first units
   * overtook l1's last units of startup (4 held at 0.18 s).
   */
  pairsOnFirstSample?: boolean
  /** Path.keepsPairRate on the paths a packet pair measured. */
  keepsPairRate?: boolean
  /**
   * Units a path hands back (overdue, or all it had not delivered when it goes down) are repaired
   * only if the repair can arrive before the receiver skips their holes (isRepairInTime, with the
   * unit's planned arrival and our own reorder hold); nack repairs are unchanged.
   */
  dropsLateRepairs?: boolean
  /**
   * A repair of a unit a failing path handed back (`isFailover`) that arrives after its hole was
   * skipped does not lengthen the reorder hold (ReorderOptions.ignoresLateRepairs; nack repairs and
   * first sends still do): it measures how late the failover was, not the paths' spread.
   */
  ignoresLateRepairs?: boolean
  /** PathOptions.timeoutFromLateness on every path. */
  timeoutFromLateness?: boolean
  /** Receivers send a burst's last feedback twice (PathReceiver's repeatsTailFeedback; default on). */
  repeatsTailFeedback?: boolean
  /** `auto` holds a paced path to its queue budgets only, not to the overflow ceiling (AutoScheduler.pacedIgnoresOverflow). */
  pacedIgnoresOverflow?: boolean
  /** Overflow is a run of nacks, not any two (Path.overflowNeedsRun): random losses in rate startup are repaired. */
  overflowNeedsRun?: boolean
  /** `auto`'s standing budget grows by this while a path is lossy (AutoScheduler.lossyBudgetExtraMs). */
  lossyBudgetExtraMs?: number
}

/** One unit's life as the sim saw it, for bench/sim/hold-trace.ts: sent (and when it left our pace queue), arrived. */
export interface UnitEvent {
  kind: 'sent' | 'released' | 'arrived'
  nowMs: number
  path: number
  bucket: number
  flowSeq: number
  isRepair: boolean
  /** sent: the scheduler's expected arrival (NaN when not known); released: packets in the link's queue ahead of it. */
  value: number
}

/** `plannedMs`: when `auto` expected its first send to arrive (NaN with another scheduler). */
interface StoredUnit { id: number, bytes: number, bucket: number, flowSeq: number, inner: TcpSegment, plannedMs: number }

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
  /** Units handed back by a path (overdue or down) not repaired: the repair would have come after the receiver skipped the hole (design.dropsLateRepairs). */
  lateRepairsDropped = 0
  /** Of `repairs`, those sent ahead of a pace queue (design.repairsAhead). */
  aheadRepairs = 0
  /** FEC, one encoder per path out and one decoder per path in (empty without `design.fec`). */
  readonly fecEncoders: FecEncoder[] = []
  readonly fecDecoders: FecDecoder[] = []
  /** Units the decoders rebuilt that the reorder buffer took (not duplicates of a repair). */
  fecRebuiltUnits = 0
  /** Per path: the longest member (wire bytes) of the group being encoded (the parity is as long). */
  private readonly fecGroupBytes: number[] = []
  /** Sees every data unit sent, released from a pace queue and arrived (bench/sim/hold-trace.ts). */
  onUnit: ((e: UnitEvent) => void) | undefined
  /** Delivers inner segments to the local TCP endpoint. */
  onInner: (segment: TcpSegment) => void = () => {}
  private readonly scheduler: Scheduler
  /** Repairs go where they arrive first (pure earliest arrival), whatever the data policy. */
  private readonly repairScheduler: Scheduler
  private readonly sequencer: FlowSequencer
  private readonly chosen: Path[] = []
  private readonly lostUnits: number[] = []
  private readonly abandonedUnits: number[] = []
  private readonly store: (StoredUnit | undefined)[] = new Array<StoredUnit | undefined>(UNIT_STORE_SIZE)
  private nextUnitId = 0
  private wakeAtMs = Infinity
  private readonly feedbackAtMs: number[]
  private readonly lastReleaseMs: number[]
  private readonly srttMs: number[] = []
  private readonly isLossy: boolean[] = []

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
        measuresPacketPair: design.packetPair !== undefined && design.packetPair !== false,
        boundsStaleCorrections: design.boundsStaleCorrections === true,
        timeoutFromLateness: design.timeoutFromLateness === true,
      }))
      this.paths[i]!.keepsPairRate = design.keepsPairRate === true
      this.paths[i]!.overflowNeedsRun = design.overflowNeedsRun === true
      this.receivers.push(new PathReceiver(undefined, false, design.repeatsTailFeedback !== false))
      this.traces.push({ dataBytes: 0, lastDataRxMs: -Infinity, markMs: Infinity, firstDataAfterMarkMs: NaN })
      this.feedbackAtMs.push(Infinity)
      if (design.fec === true) {
        this.fecEncoders.push(new FecEncoder(FEC_PAYLOAD_BYTES))
        this.fecDecoders.push(new FecDecoder(1024, FEC_PAYLOAD_BYTES))
        this.fecGroupBytes.push(0)
      }
    }
    this.scheduler = design.makeScheduler()
    // The tunnel drops what `auto` refuses: refusing is how it says the bond is congested, where
    // dodging a path's budget onto a path of equal delay but a longer queue reorders the flow.
    if (this.scheduler instanceof AutoScheduler) {
      this.scheduler.keepsEqualDelayOrder = design.keepsEqualDelayOrder === true
      this.scheduler.startupQueueCapMs = design.startupQueueCapMs ?? Infinity
      this.scheduler.pacedIgnoresOverflow = design.pacedIgnoresOverflow === true
      this.scheduler.lossyBudgetExtraMs = design.lossyBudgetExtraMs ?? 0
    }
    this.repairScheduler = new AutoScheduler(undefined, Infinity)
    const buckets = design.reorder === 'global' ? 1 : 64
    this.sequencer = new FlowSequencer(buckets)
    if (design.reorder !== 'none') {
      const holdTime = design.fixedHoldMs !== undefined ? new HoldTimeEstimator(design.fixedHoldMs, design.fixedHoldMs) : undefined
      this.reorder = new ReorderBuffer<TunnelPacket>({
        buckets,
        deliver: (p) => { if (p.inner) this.onInner(p.inner) },
        ...(holdTime ? { holdTime } : {}),
        ignoresLateRepairs: design.ignoresLateRepairs === true,
      })
    }
  }

  /** The simulation's clock (for tracing). */
  nowMs (): number { return this.events.nowMs }

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
    const unit: StoredUnit = { id: this.nextUnitId++, bytes, bucket, flowSeq: this.sequencer.next(bucket), inner, plannedMs: this.scheduler instanceof AutoScheduler ? this.scheduler.plannedArrivalMs : NaN }
    this.store[unit.id % UNIT_STORE_SIZE] = unit
    this.transmit(unit, n, false, now)
  }

  /**
   * `inTimeOnly`: a repair is sent only if it can arrive before the receiver skips its hole
   * (isRepairInTime); false when it was not for that reason.
   */
  private sendUnit (unit: StoredUnit, isRepair: boolean, now: number, inTimeOnly = false): boolean {
    const n = (isRepair ? this.repairScheduler : this.scheduler).pick(this.paths, unit.bytes, now, this.chosen)
    if (n === 0) { this.refused++; return true }
    // The peer's hold as ours (both measure the same paths' delay spread, one direction each).
    if (inTimeOnly && this.reorder && this.repairScheduler instanceof AutoScheduler &&
      !isRepairInTime(unit.plannedMs, this.repairScheduler.plannedArrivalMs, this.reorder.holdTime.holdMs)) { this.lateRepairsDropped++; return false }
    this.transmit(unit, n, isRepair, now, inTimeOnly)
    return true
  }

  private transmit (unit: StoredUnit, n: number, isRepair: boolean, now: number, isFailover = false): void {
    for (let i = 0; i < n; i++) {
      const path = this.chosen[i]!
      const scheduler = isRepair ? this.repairScheduler : this.scheduler
      this.onUnit?.({ kind: 'sent', nowMs: now, path: path.id, bucket: unit.bucket, flowSeq: unit.flowSeq, isRepair, value: scheduler instanceof AutoScheduler ? scheduler.plannedArrivalMs : NaN })
      this.sendOnPath(path, {
        kind: 'data', path: path.id, pathSeq: -1, txTimeMs: now, bucket: unit.bucket, flowSeq: unit.flowSeq,
        isRepair, inner: unit.inner, about: -1, feedback: undefined, ...(isFailover ? { isFailover } : {}),
      }, unit.bytes, this.design.repair ? unit.id : -1, now)
    }
  }

  /** Sends a data or parity packet on `path` (paced like data), stamping its per-path sequence. */
  private sendOnPath (path: Path, packet: TunnelPacket, bytes: number, unitId: number, now: number): void {
    // Paced designs hold a unit until the path's pacer lets it go, so a burst waits here instead
    // of overflowing the bottleneck's buffer (not in rate startup: the rate is not known yet).
    // Stamped now: the wait is part of the path's delay, as the model and the one-way delay count it.
    const isPaced = this.design.pace === true && !path.rate.inStartup
    const releaseMs = isPaced ? Math.max(this.lastReleaseMs[path.id]!, path.pacer.sendTimeMs(bytes, PACING_BURST_BYTES, now)) : now
    this.lastReleaseMs[path.id] = releaseMs
    const seq = path.onSend(bytes, now, unitId)
    packet.pathSeq = seq
    const link = this.outLinks[path.id]!
    if (releaseMs <= now) this.release(link, packet, bytes)
    else {
      // As the VPN does: the path learns when a queued send really left (its reply deadline and
      // its delay samples leave out the wait in our own queue).
      path.markQueued(seq)
      this.events.at(releaseMs, () => { path.markReleased(seq, this.events.nowMs); this.release(link, packet, bytes) })
    }
    if (packet.kind !== 'parity') this.protect(path, packet, bytes, now)
  }

  private release (link: Link<TunnelPacket>, packet: TunnelPacket, bytes: number): void {
    if (this.onUnit && packet.kind === 'data') {
      this.onUnit({ kind: 'released', nowMs: this.events.nowMs, path: packet.path, bucket: packet.bucket, flowSeq: packet.flowSeq, isRepair: packet.isRepair, value: link.queuedPackets() })
    }
    link.send(packet, bytes)
  }

  /** Adds a sent packet to its path's FEC group; sends the parity when that completes the group. */
  private protect (path: Path, packet: TunnelPacket, bytes: number, now: number): void {
    const encoder = this.fecEncoders[path.id]
    if (!encoder) return
    const parity = encoder.add(packet.pathSeq, encodePayload(packet), now)
    if (encoder.groupSize > 0 || parity) this.fecGroupBytes[path.id] = Math.max(this.fecGroupBytes[path.id]!, bytes)
    if (parity) this.sendParity(path, parity, now)
  }

  private sendParity (path: Path, parity: ParityUnit, now: number): void {
    const bytes = this.fecGroupBytes[path.id]! + PARITY_HEADER_BYTES
    this.fecGroupBytes[path.id] = 0
    this.sendOnPath(path, {
      kind: 'parity', path: path.id, pathSeq: -1, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
      inner: undefined, about: -1, feedback: undefined, parity,
    }, bytes, -1, now)
  }

  /**
   * As the VPN does: units lost to drop-tail overflow are not repaired (the inner flow's
   * congestion signal), and the receiver is told so it skips their holes at once.
   */
  private sendAbandon (pathIndex: number, now: number): void {
    const abandoned: { bucket: number, flowSeq: number }[] = []
    for (const id of this.abandonedUnits) {
      const unit = this.store[id % UNIT_STORE_SIZE]
      if (unit && unit.id === id) abandoned.push({ bucket: unit.bucket, flowSeq: unit.flowSeq })
    }
    if (abandoned.length === 0) return
    this.sendControl(pathIndex, {
      kind: 'abandon', path: pathIndex, pathSeq: -1, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
      inner: undefined, about: -1, feedback: undefined, abandoned,
    }, FEEDBACK_BYTES)
  }

  private resend (unitIds: number[], now: number, isAhead = false, inTimeOnly = false): void {
    for (const id of unitIds) {
      const unit = this.store[id % UNIT_STORE_SIZE]
      if (!unit || unit.id !== id) continue
      if (isAhead) { this.repairs++; this.sendAhead(unit, now) } else if (this.sendUnit(unit, true, now, inTimeOnly)) this.repairs++
    }
    unitIds.length = 0
  }

  /**
   * A nack repair sent at once, ahead of the pace queue, on the path where it arrives first that
   * way (pickSparse), outside the per-path sequence: with a sequence taken now it would overtake
   * the units queued before it, and the receiver would count each of them lost (l1 looked 30-40 %
   * lossy and the flow fell to 17.8 Mbit/s). The pace model still counts its bytes, so the units
   * behind it are planned one serialisation later. Only on a paced path (no pace queue to skip
   * otherwise) that loses next to nothing (nothing repairs this copy but the next nack round).
   */
  private sendAhead (unit: StoredUnit, now: number): void {
    if (pickSparse(this.paths, unit.bytes, now, this.chosen) === 0) { this.refused++; return }
    const path = this.chosen[0]!
    if (!path.isPacedNow() || path.loss.lossRatio >= AHEAD_MAX_LOSS_RATIO) { this.sendUnit(unit, true, now); return }
    path.pacer.onSend(unit.bytes, now)
    this.aheadRepairs++
    this.onUnit?.({ kind: 'sent', nowMs: now, path: path.id, bucket: unit.bucket, flowSeq: unit.flowSeq, isRepair: true, value: NaN })
    this.outLinks[path.id]!.send({
      kind: 'data', path: path.id, pathSeq: -1, txTimeMs: now, bucket: unit.bucket, flowSeq: unit.flowSeq,
      isRepair: true, inner: unit.inner, about: -1, feedback: undefined,
    }, unit.bytes)
  }

  /** A tunnel packet arrived on path `index` (a link from the peer). */
  receive (packet: TunnelPacket, bytes: number): void {
    const now = this.events.nowMs
    if (packet.kind === 'feedback') {
      const path = this.paths[packet.about]!
      path.onFeedback(packet.feedback!, now, this.lostUnits, this.abandonedUnits)
      if (this.design.pairsOnFirstSample === true) for (const p of this.paths) this.sendPairIfDue(p, now)
      if (this.design.repair) this.resend(this.lostUnits, now, this.design.repairsAhead === true)
      this.lostUnits.length = 0
      if (this.design.repair) this.sendAbandon(packet.about, now)
      this.abandonedUnits.length = 0
      return
    }
    if (packet.kind === 'abandon') {
      for (const u of packet.abandoned!) this.reorder?.abandon(u.bucket, u.flowSeq, now)
      if (this.reorder) this.wake(this.reorder.nextDeadlineMs())
      return
    }
    if (packet.kind === 'data' && packet.pathSeq < 0) {
      // A repair sent ahead of a pace queue (sendAhead): outside the path's sequence, so the
      // path's receiver and FEC decoder do not see it.
      this.traces[packet.path]!.dataBytes += bytes
      this.onUnit?.({ kind: 'arrived', nowMs: now, path: packet.path, bucket: packet.bucket, flowSeq: packet.flowSeq, isRepair: true, value: NaN })
      this.reorder?.push(packet.bucket, packet.flowSeq, packet, now)
      if (this.reorder) this.wake(this.reorder.nextDeadlineMs())
      return
    }
    const receiver = this.receivers[packet.path]!
    receiver.onPacket(packet, bytes, now, packet.kind === 'probe')
    const decoder = this.fecDecoders[packet.path]
    let rebuilt: RebuiltUnit | undefined
    if (decoder) {
      rebuilt = packet.kind === 'parity' ? decoder.onParity(packet.parity!, now) : decoder.onPacket(packet.pathSeq, encodePayload(packet), now)
      receiver.nackDelayMs = decoder.nackDelayMs(now, this.design.fecNackWaitMs)
      if (rebuilt) receiver.onRebuilt(rebuilt.seq)
      else if (packet.kind === 'parity' && decoder.lastMissing >= 2) receiver.nackNow(packet.parity!.firstSeq, packet.parity!.count, now)
    }
    if (receiver.isFeedbackDue(now)) this.sendFeedback(packet.path, now)
    this.armFeedback(packet.path, receiver.nextFeedbackMs())
    if (rebuilt) this.onRebuilt(packet.path, rebuilt, now)
    if (packet.kind !== 'data') return
    const trace = this.traces[packet.path]!
    trace.dataBytes += bytes
    trace.lastDataRxMs = now
    if (now >= trace.markMs && Number.isNaN(trace.firstDataAfterMarkMs)) trace.firstDataAfterMarkMs = now
    this.onUnit?.({ kind: 'arrived', nowMs: now, path: packet.path, bucket: packet.bucket, flowSeq: packet.flowSeq, isRepair: packet.isRepair, value: NaN })
    if (this.reorder) {
      this.reorder.push(packet.bucket, packet.flowSeq, packet, now, packet.isFailover === true)
      this.wake(this.reorder.nextDeadlineMs())
    } else if (packet.inner) {
      this.onInner(packet.inner)
    }
  }

  /** A unit the path's FEC decoder rebuilt goes on as if it had arrived. */
  private onRebuilt (pathIndex: number, rebuilt: RebuiltUnit, now: number): void {
    const packet = decodePayload(rebuilt.bytes, pathIndex, rebuilt.seq)
    if (!packet || packet.kind !== 'data' || !this.reorder) return
    const duplicatesBefore = this.reorder.stats.duplicates + this.reorder.stats.late
    this.onUnit?.({ kind: 'arrived', nowMs: now, path: pathIndex, bucket: packet.bucket, flowSeq: packet.flowSeq, isRepair: true, value: -1 })
    this.reorder.push(packet.bucket, packet.flowSeq, packet, now)
    if (this.reorder.stats.duplicates + this.reorder.stats.late === duplicatesBefore) this.fecRebuiltUnits++
    this.wake(this.reorder.nextDeadlineMs())
  }

  private sendProbe (path: Path, bytes: number, now: number): number {
    const seq = path.onSend(bytes, now)
    const probe: TunnelPacket = {
      kind: 'probe', path: path.id, pathSeq: seq, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
      inner: undefined, about: -1, feedback: undefined,
    }
    this.outLinks[path.id]!.send(probe, bytes)
    this.protect(path, probe, bytes, now)
    return seq
  }

  /** Feedback about the peer's path `index` goes back on the same path (so it proves both ways). */
  private sendFeedback (index: number, now: number): void {
    const fb = this.receivers[index]!.writeFeedback(now, createFeedback())
    this.sendControl(index, {
      kind: 'feedback', path: index, pathSeq: -1, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
      inner: undefined, about: index, feedback: fb,
    }, FEEDBACK_BYTES)
    // Nacks also go on the fastest path, so a repair starts a slow path's delay earlier. The copy
    // carries no echo (its RTT would be the fast path's, not this one's).
    const fastest = this.design.nackOnFastest === true && fb.nackCount > 0 ? this.fastestPath() : -1
    if (fastest >= 0 && fastest !== index) {
      this.sendControl(fastest, {
        kind: 'feedback', path: fastest, pathSeq: -1, txTimeMs: now, bucket: 0, flowSeq: 0, isRepair: false,
        inner: undefined, about: index, feedback: { ...fb, nacks: fb.nacks.slice(), echoSeq: -1 },
      }, FEEDBACK_BYTES)
    }
  }

  /** Our up path with the least smoothed RTT (-1: none measured). */
  private fastestPath (): number {
    let best = -1
    for (const p of this.paths) {
      if (p.state !== 'up' || !p.rtt.hasSample()) continue
      if (best < 0 || p.rtt.srttMs < this.paths[best]!.rtt.srttMs) best = p.id
    }
    return best
  }

  /**
   * Feedback and abandon messages go out at once, outside the path's sequence and pace queue; the
   * path's models still count their bytes (Path.onUnsequencedSend). Left out, each 64-byte message
   * left the link 0.026 ms (l1) behind the departure model for good once the rate estimate was the
   * link's exact rate, and ten of them made the l1 unit of an equal-delay near tie arrive after
   * the l2 unit planned 0.24 ms behind it.
   */
  private sendControl (index: number, packet: TunnelPacket, bytes: number): void {
    const counts = this.design.countsControlBytes
    if (counts === true || (counts === 'same-delay' && hasSameDelayPeer(this.paths, this.paths[index]!))) this.paths[index]!.onUnsequencedSend(bytes, this.events.nowMs)
    this.outLinks[index]!.send(packet, bytes)
  }

  private armFeedback (index: number, atMs: number): void {
    if (!(atMs < this.feedbackAtMs[index]!)) return
    this.feedbackAtMs[index] = atMs
    this.events.at(atMs, () => {
      if (this.feedbackAtMs[index] !== atMs) return
      this.feedbackAtMs[index] = Infinity
      const r = this.receivers[index]!
      if (r.isFeedbackDue(this.events.nowMs)) this.sendFeedback(index, this.events.nowMs)
      // After a send too: a nack held for FEC (nackDelayMs) may still be waiting.
      this.armFeedback(index, r.nextFeedbackMs())
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

  /** Sends `path`'s packet pair when one is due (design.packetPair); true if it did. */
  private sendPairIfDue (path: Path, now: number): boolean {
    if (!path.isPacketPairDue(now) || (this.design.packetPair === 'same-delay' && !hasSameDelayPeer(this.paths, path))) return false
    // Two full-size probes back to back: the gap between their arrivals is the bottleneck's rate.
    const first = this.sendProbe(path, PAIR_BYTES, now)
    this.sendProbe(path, PAIR_BYTES, now)
    path.onPacketPairSent(first, now)
    return true
  }

  private housekeeping (): void {
    const now = this.events.nowMs
    for (const path of this.paths) {
      const encoder = this.fecEncoders[path.id]
      if (encoder) {
        // On and off by the path's loss as it is now, k by its steadier average.
        encoder.setLossRatio(path.state === 'down' ? 0 : path.loss.lossRatio, path.loss.steadyRatio)
        const parity = encoder.flush(now)
        if (parity) this.sendParity(path, parity, now)
      }
      const decoder = this.fecDecoders[path.id]
      if (decoder) this.receivers[path.id]!.nackDelayMs = decoder.nackDelayMs(now, this.design.fecNackWaitMs)
      if (this.design.boundsStaleCorrections === 'same-delay') path.boundsStaleCorrections = hasSameDelayPeer(this.paths, path)
      path.update(now, this.lostUnits)
      if (this.design.repair) this.resend(this.lostUnits, now, false, this.design.dropsLateRepairs === true)
      this.lostUnits.length = 0
      if (!this.sendPairIfDue(path, now) && path.isProbeDue(now)) this.sendProbe(path, PROBE_BYTES, now)
    }
    if (this.reorder && this.design.fixedHoldMs === undefined) {
      const { spreadMs, jitterMs } = delaySpreadOf(this.receivers, now)
      this.reorder.holdTime.setSpread(spreadMs, jitterMs)
      if (this.design.fec === true) {
        for (let i = 0; i < this.paths.length; i++) {
          this.srttMs[i] = this.paths[i]!.rtt.hasSample() ? this.paths[i]!.rtt.srttMs : NaN
          this.isLossy[i] = this.fecDecoders[i]!.isActive(now)
        }
        this.reorder.holdTime.setRepairWait(repairWaitOf(this.receivers, this.srttMs, this.isLossy, now, this.design.nackOnFastest === true))
      }
      this.reorder.expire(now)
      this.wake(this.reorder.nextDeadlineMs())
    }
  }
}

/** Bytes of a unit's plaintext the sim protects with FEC: what the receiver needs to rebuild it. */
const FEC_PAYLOAD_BYTES = 24
const KIND_DATA = 1
const KIND_PROBE = 2

/**
 * The plaintext the FEC covers, as the VPN's would be: a probe is 4 bytes, a data unit 24 (its
 * flow class, flow sequence and the inner TCP segment's fields); the link still carries the
 * unit's full size. Rebuilding works on these bytes, so the sim exercises the real XOR.
 */
function encodePayload (p: TunnelPacket): Uint8Array {
  if (p.kind !== 'data' || !p.inner) return Uint8Array.of(KIND_PROBE, 0, 0, 0)
  const out = new Uint8Array(FEC_PAYLOAD_BYTES)
  const v = new DataView(out.buffer)
  v.setUint8(0, KIND_DATA)
  v.setUint8(1, p.bucket)
  v.setUint8(2, (p.inner.isAck ? 1 : 0) | (p.inner.isRetransmit ? 2 : 0) | (p.isRepair ? 4 : 0) | (p.inner.isSyn === true ? 8 : 0))
  v.setUint32(4, p.flowSeq)
  v.setUint32(8, p.inner.flow)
  v.setUint32(12, p.inner.seq)
  v.setInt32(16, p.inner.cumAck)
  v.setInt32(20, p.inner.sacked)
  return out
}

function decodePayload (bytes: Uint8Array, path: number, pathSeq: number): TunnelPacket | undefined {
  if (bytes.length !== FEC_PAYLOAD_BYTES || bytes[0] !== KIND_DATA) return undefined
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length)
  const flags = v.getUint8(2)
  return {
    kind: 'data', path, pathSeq, txTimeMs: NaN, bucket: v.getUint8(1), flowSeq: v.getUint32(4), isRepair: (flags & 4) !== 0,
    inner: { flow: v.getUint32(8), isAck: (flags & 1) !== 0, seq: v.getUint32(12), isRetransmit: (flags & 2) !== 0, ...((flags & 8) !== 0 ? { isSyn: true } : {}), cumAck: v.getInt32(16), sacked: v.getInt32(20) },
    about: -1, feedback: undefined,
  }
}
