/**
 * One peer of the VPN (the server seen by a client, or one client seen by the server): its
 * session keys and every path to it, driven by the shared multipath core. It turns inner IP
 * packets into sealed datagrams on the chosen path(s), and sealed datagrams back into inner
 * packets in flow order. I/O goes through `PeerIo`; time is passed in.
 *
 * Send:    inner packet -> flow bucket + flow seq -> scheduler -> per path: stamp, copy into the
 *          datagram buffer -> io.sendUnsealed (sealed with the send batch) or seal in place -> io.send.
 *          A copy stays in a ring for repair.
 * Receive: opened datagram -> path receiver (feedback) -> reorder buffer (per flow bucket) -> io.deliver.
 */
import {
  Path, PathReceiver, ReorderBuffer, FlowSequencer, AutoScheduler, createScheduler, createFeedback, delaySpreadOf, repairWaitOf, bestTier, isInTier,
  flowBucketOf, unwrapSeq32, pickSparse, DEFAULT_FLOW_BUCKETS, REORDER_WINDOW_PACKETS, SPARSE_WINDOW_MS, SPARSE_FLOW_BYTES, BOTTLENECK_BUDGET_MS, SLOWER_PATH_BUDGET_MS,
  PACING_BURST_BYTES, FecEncoder, FecDecoder, FEC_ON_LOSS_RATIO, INITIAL_RATE_BITS_PER_SEC,
  type PathFeedback, type ParityUnit, type RebuiltUnit, type Scheduler, type SchedulerKind, type PathPreference,
} from '../multipath/index.js'
import { CounterLog, type Logger } from '../log.js'
import type { VpnSession } from './session.js'
import type { AeadKey } from '../crypto/aead.js'
import { readFeedback, writeFeedback, writeProbe, copyOfFeedback } from './messages.js'
import {
  MessageKind, ProbeFlags, SEALED_HEADER_BYTES, TAG_BYTES, DATA_HEADER_BYTES, PROBE_HEADER_BYTES, DATA_OVERHEAD_BYTES,
  IPV4_UDP_HEADER_BYTES, IPV6_UDP_HEADER_BYTES, PARITY_HEADER_BYTES, FEC_MEMBER_HEADER_BYTES, writeDataHeader,
} from './wire.js'
import { PmtuSearch, IPV4_MIN_MTU, IPV6_MIN_MTU } from './pmtu.js'
import { PaceQueue } from './pace-queue.js'
import { PacketPool } from './packet-pool.js'
import { WaitQueue, type WaitQueueStats } from './wait-queue.js'
import { DelayKeeper } from './delay-keeper.js'
import { IncomingLoss } from './incoming-loss.js'
import { HoleTrace } from './hole-trace.js'
import { StarvedPaths, type PathFigures } from './starved-path.js'
import { DelayLine, countsForEqualDelay, equalizingHoldMs } from './delay-line.js'
import { ipProtocolOf, IPPROTO_TCP } from './inner-address.js'

export interface PeerIo {
  /** Sends datagram[0, length) on path `pathId` (to its last known address). */
  send(pathId: number, datagram: Buffer, length: number): void
  /**
   * Optional: sends datagram[0, length + 16) after sealing it with `key` and `counter` (header
   * written, text in the clear, `length` without the tag), so a batch is sealed in one call.
   */
  sendUnsealed?(pathId: number, datagram: Buffer, length: number, key: AeadKey, counter: number): void
  /**
   * Optional, with commitUnsealed: a buffer to write path `pathId`'s next datagram into in place
   * (header at 0, room for `length` + 16), or undefined to use sendUnsealed.
   */
  slotFor?(pathId: number, length: number): Buffer | undefined
  /** Sends what was written into slotFor's buffer, [0, length) plus the tag, sealed like sendUnsealed. */
  commitUnsealed?(pathId: number, length: number, key: AeadKey, counter: number): void
  /** Hands an inner IP packet to the TUN. */
  deliver(packet: Buffer, offset: number, length: number): void
  /**
   * Optional: whether an inner packet rebuilt from FEC parity may go on (the server checks its
   * inner source as it does a data message's, before the packet is handed on).
   */
  admitsRebuilt?(packet: Buffer, offset: number, length: number): boolean
}

export interface PathSpec {
  id: number
  name: string
  /** The path runs over IPv6 (bigger headers, 1280-byte minimum MTU). */
  isIpv6?: boolean
  preference?: PathPreference
  txCapBitsPerSec?: number
  weight?: number
}

export interface PeerOptions {
  scheduler: SchedulerKind
  probeIntervalMs?: number
  downFloorMs?: number
  /** Largest inner packet we can carry (the TUN's arena slot; the TUN MTU is at most this). */
  mtuBytes: number
  /** Largest outer packet to try on any path (default 1500); with `fixedMtu` no discovery runs. */
  maxPathMtuBytes?: number
  /** A configured inner MTU (--mtu): paths are assumed to carry it and are not probed. */
  fixedMtu?: boolean
  /** The inner MTU every usable path carries changed (the owner sets the TUN's MTU). */
  onInnerMtu?: (mtuBytes: number) => void
  /** Hold bursts for each path's pacer (helps shallow bottleneck buffers; costs throughput on fast unshaped links). */
  pacing?: boolean
  /** Inner packets kept for repair (a ring; our choice: 4096, about 6 MiB at a 1500-byte MTU). */
  repairUnits?: number
  log: Logger
  /** Subject of this peer's log lines (default "peer"). */
  label?: string
  random?: () => number
  /** Log each hole skipped, each late fill and each nack at debug level (see HoleTrace). */
  traceHoles?: boolean
  /**
   * Hold what arrives over faster paths to the slowest path's delay (`--equal-delay`, see
   * DelayLine): 'tcp' holds TCP segments only, so pings, DNS and voice keep the fastest path's
   * delay; 'all' holds every packet. Undefined: off.
   */
  equalDelay?: EqualDelayScope
}

/** What `--equal-delay` holds: TCP segments only, or every packet. */
export type EqualDelayScope = 'tcp' | 'all'

export interface PeerCounters {
  txPackets: number
  txBytes: number
  rxPackets: number
  rxBytes: number
  /** Inner packets dropped: no path up, or the wait for a path with room was too long (see WaitQueue). */
  refused: number
  /** Inner packets that arrived while no session existed. */
  noSession: number
  repairs: number
  malformed: number
  /** Feedbacks with nacks also sent on the fastest path (sendFeedback). */
  nackCopies: number
  /** Silence reports sent: a busy path went quiet here, said over another path (sendSilenceReport). */
  silenceReports: number
  /** FEC parities sent on lossy paths, and inner packets rebuilt from the peer's parities (not duplicates). */
  fecParities: number
  fecRebuilt: number
}

const PROBE_BYTES = 64
/**
 * Our choice: the flow classes the sparse-flow test counts bytes in (a hash of the 5-tuple, as the
 * flow buckets; a multiple of DEFAULT_FLOW_BUCKETS, so class % DEFAULT_FLOW_BUCKETS is the flow's
 * bucket). Counted per bucket, a ping whose bucket it shared with a bulk flow (1 in 64 per bulk
 * flow) was bulk too, and waited behind it: 63 sparse sends where other runs count 116-122, and a
 * ping median of 75-84 ms over l1's 20 ms, in 2 of ~50 lab runs. fq_codel's 1024 flow queues, for the same reason.
 */
const SPARSE_CLASSES = 1024
/** The reorder bucket whose sequence every sparse packet takes (one past the flow buckets). */
const SPARSE_BUCKET = DEFAULT_FLOW_BUCKETS
/** Flow buckets plus the sparse one: the sequences a peer keeps. */
const SEQUENCE_BUCKETS = DEFAULT_FLOW_BUCKETS + 1
const MAX_PATHS = 256
/** At most one feedback's worth of nacks (16) fits the reasons to abandon; our choice: up to 64 per message. */
const MAX_ABANDON_PER_MESSAGE = 64
/** Reorder item id of an in-order packet delivered from its datagram during the push (never held). */
const DIRECT_PACKET = Number.MIN_SAFE_INTEGER
/**
 * Longest a new gap's nack waits for a parity that may rebuild it (FecDecoder.nackDelayMs' cap):
 * the simulator's choice (a repair over the fast path is cheaper than a whole group's wait).
 */
const FEC_NACK_WAIT_MS = 5
/** Packets a path's FEC decoder keeps (a power of two, at least a group). */
const FEC_WINDOW_PACKETS = 1024
const EMPTY_BYTES = new Uint8Array(0)
/**
 * Our choice: a repair goes at once while the path it arrives first on has at most this much
 * modelled queue, and waits for room beyond it (ahead of new data, which keeps to the 5 ms
 * bottleneck budget). Lone repairs of random loss always find it. A failover hands back 140-190
 * units at once (l2's in flight in the lab): sent at once, they overflowed l1's 100-packet
 * buffer (a run of 31+ losses each time, which the inner TCP then resent from behind the wait
 * queue: stalls of 280-420 ms). 20 ms, like SLOWER_PATH_BUDGET_MS, rides out late wake-ups.
 */
const REPAIR_BUDGET_MS = 20
/** Our choice: repairs that may wait for room (a failover's worth many times over); beyond it one goes only where a path has room, or is given up (the inner flow resends it). */
const REPAIRS_WAITING = 1024

/**
 * Our choice: the hold on a lossy path covers this times repairWaitOf's estimate. In the lab (5 %
 * loss on l2, CUBIC) repaired holes took 125-150 ms to fill where it said 90-115 (a tail loss is
 * found only by the next packet or parity on its path; feedback and repairs wait for a tick on a
 * busy host), and each hole skipped that way cost CUBIC a window cut (30 %), where a longer hold
 * costs a hole's flow class a few ms more stall: 1.0 gave 11.5-24 Mbit/s, 1.5 gave 20.6-28.1.
 */
const REPAIR_WAIT_MARGIN = 1.5

export class Peer {
  session: VpnSession | undefined
  /** Paths by id; `active` is the dense list the scheduler sees. */
  private readonly byId: (Path | undefined)[] = new Array<Path | undefined>(MAX_PATHS)
  readonly active: Path[] = []
  readonly receivers: (PathReceiver | undefined)[] = new Array<PathReceiver | undefined>(MAX_PATHS)
  /** Items are packet ids: pool slots (>= 0), or oversized packets kept aside (< 0). */
  readonly reorder: ReorderBuffer<number>
  /** Reorder window overflows log one line per interval, with the packets given up on since. */
  private readonly overflowLog = new CounterLog()
  /** Received inner packets while the reorder buffer holds them (freed when delivered or dropped). */
  private readonly rxPool: PacketPool
  private readonly oversized = new Map<number, Buffer>()
  private nextOversizedId = -1
  readonly counters: PeerCounters = { txPackets: 0, txBytes: 0, rxPackets: 0, rxBytes: 0, refused: 0, noSession: 0, repairs: 0, malformed: 0, nackCopies: 0, silenceReports: 0, fecParities: 0, fecRebuilt: 0 }
  private scheduler: Scheduler
  /** Repairs go where they arrive first, within REPAIR_BUDGET_MS of modelled queue (see resend). */
  private readonly repairScheduler = new AutoScheduler(undefined, Infinity, REPAIR_BUDGET_MS, REPAIR_BUDGET_MS)
  /** Repairs (unit ids) that found no path within REPAIR_BUDGET_MS: sent first as room comes, ahead of new data. */
  private readonly repairsWaiting = new WaitQueue(REPAIRS_WAITING, Infinity, REPAIRS_WAITING, Infinity)
  private readonly sequencer = new FlowSequencer(SEQUENCE_BUCKETS)
  private readonly lastFlowSeq = new Float64Array(SEQUENCE_BUCKETS).fill(-1)
  private readonly chosen: Path[] = []
  private readonly lostUnits: number[] = []
  private readonly abandonedUnits: number[] = []
  private readonly feedback: PathFeedback = createFeedback()
  private readonly scratch: Buffer
  // Repair ring: unit i lives in slot i % repairUnits.
  private readonly repairUnits: number
  private readonly unitSlab: Buffer
  /** A view of each unit slot, made once: transmit copies a whole slot with set(), no view per packet. */
  private readonly unitViews: Uint8Array[] = []
  private readonly unitIds: Float64Array
  private readonly unitLengths: Uint16Array
  /** Per unit: the bucket whose sequence it takes (its flow's bucket, or SPARSE_BUCKET). */
  private readonly unitBuckets: Uint16Array
  /** Per unit: its flow's sparse class (SPARSE_CLASSES). */
  private readonly unitClasses: Uint16Array
  private readonly unitFlowSeqs: Float64Array
  /** Finds a path whose rate estimate fell too low to ever be given data (see searchIfStarved). */
  private readonly starvedPaths: StarvedPaths
  private nextUnitId = 0
  // Sparse-flow detection, per sparse class: bytes handed over in the current and previous half
  // window, and how many of its units wait for a path.
  private readonly classBytes = new Float64Array(SPARSE_CLASSES)
  private readonly classPrevBytes = new Float64Array(SPARSE_CLASSES)
  private readonly classWaiting = new Uint32Array(SPARSE_CLASSES)
  /** The same bytes per flow bucket: a sparse class in a bucket that is not sparse shares it with a bulk flow. */
  private readonly bucketBytes = new Float64Array(DEFAULT_FLOW_BUCKETS)
  private readonly bucketPrevBytes = new Float64Array(DEFAULT_FLOW_BUCKETS)
  private sparseWindowStartMs = -Infinity
  /** Inner packets sent ahead of the pace queues as part of a sparse flow (see SPARSE_FLOW_BYTES). */
  sparseSent = 0
  /** With `auto`: a bulk flow's packets stay on its slower path while its rate dips (see DelayKeeper). */
  readonly delayKeeper = new DelayKeeper(DEFAULT_FLOW_BUCKETS)
  /** The paths of the best usable tier (refilled by usablePaths; no allocation per packet). */
  private readonly usable: Path[] = []
  /** Inner packets (unit ids) waiting for a path with room, bounded by their wait (see WaitQueue). */
  private readonly waiting: WaitQueue
  private readonly slotBytes: number
  /** Path MTU search per path id (outer packet sizes). */
  readonly pmtu: (PmtuSearch | undefined)[] = new Array<PmtuSearch | undefined>(MAX_PATHS)
  private readonly ipUdpBytes: Uint8Array = new Uint8Array(MAX_PATHS)
  private innerMtu = 0
  /** Per path: sealed datagrams held until the path's pacer lets them go. */
  private readonly paceQueues: (PaceQueue | undefined)[] = new Array<PaceQueue | undefined>(MAX_PATHS)

  constructor (private readonly io: PeerIo, private readonly options: PeerOptions, paths: readonly PathSpec[] = []) {
    this.scheduler = this.createScheduler(options.scheduler)
    this.slotBytes = options.mtuBytes
    this.scratch = Buffer.alloc(SEALED_HEADER_BYTES + DATA_HEADER_BYTES + options.mtuBytes + TAG_BYTES + 64)
    this.repairUnits = options.repairUnits ?? 4096
    this.unitSlab = Buffer.alloc(this.repairUnits * this.slotBytes)
    for (let i = 0; i < this.repairUnits; i++) this.unitViews.push(this.unitSlab.subarray(i * this.slotBytes, (i + 1) * this.slotBytes))
    this.unitIds = new Float64Array(this.repairUnits).fill(-1)
    this.unitLengths = new Uint16Array(this.repairUnits)
    this.unitBuckets = new Uint16Array(this.repairUnits)
    this.unitClasses = new Uint16Array(this.repairUnits)
    this.starvedPaths = new StarvedPaths(MAX_PATHS, this.slotBytes)
    this.unitFlowSeqs = new Float64Array(this.repairUnits)
    this.waiting = new WaitQueue(Math.max(1, Math.floor(this.repairUnits / 2)))
    this.rxPool = new PacketPool(Math.max(2048, options.mtuBytes))
    const trace = this.holeTrace = options.traceHoles === true ? new HoleTrace(options.log, options.label ?? 'peer') : undefined
    this.reorder = new ReorderBuffer<number>({
      buckets: SEQUENCE_BUCKETS,
      deliver: (id) => this.deliverPacket(id),
      ...(trace !== undefined ? { onSkip: (bucket: number, seq: number, nowMs: number) => trace.onSkip(bucket, seq, nowMs, this.reorder.holdTime.holdMs, this.lastRepairWaitMs, this.lossyPathsText()) } : {}),
    })
    this.equalDelayAll = options.equalDelay === 'all'
    if (options.equalDelay !== undefined) this.delayLine = new DelayLine((bucket, flowSeq, id, pathId) => this.pushKept(bucket, flowSeq, id, pathId, this.delayLineNowMs))
    for (const spec of paths) this.addPath(spec)
  }

  /**
   * A new handshake's session (not an in-session rekey): the other end may be a restarted process
   * whose sequences start again at 0, or the same one going on, so the receiving side takes the
   * next sequences it sees (path and flow) as their start, and each path's view of the peer's
   * feedback starts again. Packets held for reordering go out first. `viaPathId`: the path the
   * handshake came over.
   */
  startSession (session: VpnSession, nowMs: number, viaPathId: number): void {
    this.session = session
    for (let id = 0; id < MAX_PATHS; id++) if (this.receivers[id] !== undefined) this.receivers[id] = new PathReceiver(undefined, true)
    this.fecDecoders.fill(undefined) // the peer's path sequences may start again
    for (const path of this.active) path.onNewSession()
    this.lastFlowSeq.fill(-1)
    this.delayKeeper.reset()
    this.releaseDelayed(nowMs, true)
    if (this.holeTrace) this.holeTrace.cause = 'resync'
    this.reorder.resync(nowMs)
    // The handshake crossed this path just now: a path that went down while the old session died
    // may carry data again at once (probing) instead of refusing it until its probes are answered.
    this.byId[viaPathId]?.markHeard(nowMs)
  }

  setScheduler (kind: SchedulerKind): void {
    this.scheduler = this.createScheduler(kind)
  }

  /**
   * `auto` keeps the bottleneck queue of the shortest path to BOTTLENECK_BUDGET_MS (the others'
   * to SLOWER_PATH_BUDGET_MS): the bulk beyond it waits here (the wait queue), where a sparse
   * flow's packet overtakes it.
   */
  private createScheduler (kind: SchedulerKind): Scheduler {
    return kind === 'auto' ? new AutoScheduler(undefined, undefined, BOTTLENECK_BUDGET_MS, SLOWER_PATH_BUDGET_MS) : createScheduler(kind, this.options.random)
  }

  path (id: number): Path | undefined { return this.byId[id] }

  /** Runtime `down`/`up` of a path: what it had in flight is sent again on the others at once. */
  setPathAdminDown (id: number, isDown: boolean, nowMs: number): void {
    const path = this.byId[id]
    if (path === undefined) return
    path.setAdminDown(isDown, nowMs, this.lostUnits)
    if (this.lostUnits.length > 0) this.resend(nowMs)
  }

  addPath (spec: PathSpec): Path {
    const existing = this.byId[spec.id]
    if (existing) return existing
    const path = new Path(spec.id, {
      name: spec.name,
      ...(spec.preference ? { preference: spec.preference } : {}),
      ...(spec.txCapBitsPerSec ? { txCapBitsPerSec: spec.txCapBitsPerSec } : {}),
      ...(spec.weight ? { weight: spec.weight } : {}),
      isPaced: this.options.pacing === true,
      // `auto` keeps only BOTTLENECK_BUDGET_MS queued at the bottleneck: the model is never empty.
      probesUnderLoad: this.options.scheduler === 'auto' && this.options.pacing !== true,
      ...(this.options.probeIntervalMs !== undefined ? { probeIntervalMs: this.options.probeIntervalMs } : {}),
      ...(this.options.downFloorMs !== undefined ? { downFloorMs: this.options.downFloorMs } : {}),
    })
    // Overflow only from a run of nacks: `auto` keeps a path's queue at its budget, always near
    // the largest seen, and there two random losses in one feedback were taken for a full queue
    // and abandoned (the lab, 5 % loss on l2, CUBIC: every hole skipped on l2 in the flow's first
    // seconds was one, each a window cut). The simulator's design sets the same.
    path.overflowNeedsRun = true
    this.byId[spec.id] = path
    this.receivers[spec.id] = new PathReceiver(undefined, true)
    this.paceQueues[spec.id] = new PaceQueue(this.scratch.length)
    const headers = spec.isIpv6 ? IPV6_UDP_HEADER_BYTES : IPV4_UDP_HEADER_BYTES
    this.ipUdpBytes[spec.id] = headers
    const fixedOuter = this.options.mtuBytes + DATA_OVERHEAD_BYTES + headers
    this.pmtu[spec.id] = new PmtuSearch({
      maxBytes: this.options.maxPathMtuBytes ?? 1500,
      minBytes: spec.isIpv6 ? IPV6_MIN_MTU : IPV4_MIN_MTU,
      ...(this.options.fixedMtu ? { fixedBytes: fixedOuter } : {}),
    })
    this.active.push(path)
    return path
  }

  // ---- sending

  /** How the wait for a path with room went (refusals by cause, most waiting, longest wait). */
  get waitStats (): WaitQueueStats { return this.waiting.stats }

  /**
   * For closing lines: inner packets sent ahead as sparse, data sends per path id (probes left
   * out: where a flow's ACKs went), feedbacks copied to the fastest path for their nacks, FEC
   * parities sent and packets rebuilt, silence reports sent.
   */
  get sendSummary (): string {
    return `sparse ${this.sparseSent} kept ${this.delayKeeper.kept} sent ${JSON.stringify(Object.fromEntries(this.active.map((p) => [p.id, p.counters.txPackets - p.counters.probes])))}` +
      ` copies ${this.counters.nackCopies} parities ${this.counters.fecParities} rebuilt ${this.counters.fecRebuilt} silences ${this.counters.silenceReports}` +
      (this.delayLine !== undefined ? ` delayed ${this.delayLine.held}` : '')
  }

  /**
   * Sends one inner IP packet (packet[offset, offset + length)). When `auto` finds every path's
   * queue over budget, the packet waits here (in order) instead of being dropped: a burst then
   * meets a short delay rather than losses no network caused. Only a packet offered while the
   * oldest waiting one has waited too long (or the wait queue is at its cap) is dropped, which is
   * the inner flow's congestion signal.
   */
  sendInner (packet: Uint8Array, offset: number, length: number, nowMs: number): void {
    if (this.session === undefined) { this.counters.noSession++; return }
    if (length > this.slotBytes) { this.counters.malformed++; return }
    // A view that starts at the packet and is at most a unit slot long (the client's TUN read
    // slots) is used as it is and copied whole below: no view per packet.
    const isWhole = offset === 0 && length <= packet.length && (length === packet.length || packet.length <= this.slotBytes)
    const view = isWhole ? packet : packet.subarray(offset, offset + length)
    const cls = flowBucketOf(view, SPARSE_CLASSES, length)
    const flowBucket = cls % DEFAULT_FLOW_BUCKETS
    const isSparse = this.isSparse(cls, flowBucket, length, nowMs)
    // A sparse flow whose bucket a bulk flow keeps busy (1 in 64 per bulk flow) takes the sparse
    // bucket's sequence: in its own it would wait behind the bulk's packets at the receiver. A bulk
    // flow whose rate dipped stays in its bucket, so its packets still wait for its slower path's
    // (what the delay keeper is for).
    const sharesBulkBucket = isSparse && this.bucketBytes[flowBucket]! + this.bucketPrevBytes[flowBucket]! > SPARSE_FLOW_BYTES
    const bucket = sharesBulkBucket ? SPARSE_BUCKET : flowBucket
    // A sparse flow's packet never waits here, so only bulk is subject to the wait's bounds.
    if (!isSparse && !this.waiting.hasRoom(nowMs)) {
      this.drainWaiting(nowMs) // the paths may have room by now
      if (!this.waiting.admit(nowMs)) { this.counters.refused++; return }
    }
    const unitId = this.nextUnitId++
    const slot = unitId % this.repairUnits
    this.unitSlab.set(view, slot * this.slotBytes)
    this.unitIds[slot] = unitId
    this.unitLengths[slot] = length
    this.unitBuckets[slot] = bucket
    this.unitClasses[slot] = cls
    if (this.scheduler.kind === 'auto' && !sharesBulkBucket && this.classWaiting[cls] === 0) {
      const kept = this.delayKeeper.pathFor(bucket, length, this.usablePaths(), SLOWER_PATH_BUDGET_MS, nowMs)
      if (kept !== undefined) {
        this.unitFlowSeqs[slot] = this.sequencer.next(bucket)
        this.transmit(kept as Path, slot, unitId, nowMs)
        return
      }
    }
    if (isSparse) {
      // A sparse flow's unit goes ahead of the bulk waiting here and in the pace queues, on the
      // path where it arrives first: a ping through a saturated tunnel sees the links' delay, not our queues.
      const n = pickSparse(this.active, length, nowMs, this.chosen)
      if (n > 0) {
        this.unitFlowSeqs[slot] = this.sequencer.next(bucket)
        this.sparseSent++
        this.transmit(this.chosen[0]!, slot, unitId, nowMs, true)
        return
      }
      // No path is usable: it waits with the bulk (below) for one to come back.
      if (!this.waiting.hasRoom(nowMs) && !this.waiting.admit(nowMs)) { this.counters.refused++; return }
    }
    this.classWaiting[cls]!++
    this.waiting.push(unitId, nowMs)
    this.drainWaiting(nowMs)
  }

  /** The paths of the best usable tier, in `this.usable` (what the schedulers choose among). */
  private usablePaths (): Path[] {
    const tier = bestTier(this.active)
    // Written in place, its length set only when the count changes: `length = 0` then push()
    // per packet went through V8's runtime (ArrayLengthSetter, element growth), 4 % of the client.
    let n = 0
    for (let i = 0; i < this.active.length; i++) if (isInTier(this.active[i]!, tier)) this.usable[n++] = this.active[i]!
    if (this.usable.length !== n) this.usable.length = n
    return this.usable
  }

  /** What sparse class `cls` handed over lately (the sparse-flow window's bytes over the time it spans). */
  private classBitsPerSec (cls: number, nowMs: number): number {
    const spanMs = Math.max(SPARSE_WINDOW_MS / 2, nowMs - this.sparseWindowStartMs + SPARSE_WINDOW_MS / 2)
    return ((this.classBytes[cls]! + this.classPrevBytes[cls]!) * 8000) / spanMs
  }

  /** Counts `length` bytes for sparse class `cls` (in flow bucket `bucket`) and says whether the class is sparse (only with `auto`). */
  private isSparse (cls: number, bucket: number, length: number, nowMs: number): boolean {
    if (nowMs - this.sparseWindowStartMs >= SPARSE_WINDOW_MS / 2) {
      if (nowMs - this.sparseWindowStartMs < SPARSE_WINDOW_MS) {
        this.classPrevBytes.set(this.classBytes)
        this.bucketPrevBytes.set(this.bucketBytes)
      } else {
        this.classPrevBytes.fill(0)
        this.bucketPrevBytes.fill(0)
      }
      this.classBytes.fill(0)
      this.bucketBytes.fill(0)
      this.sparseWindowStartMs = nowMs
    }
    this.classBytes[cls] = this.classBytes[cls]! + length
    this.bucketBytes[bucket] = this.bucketBytes[bucket]! + length
    return this.scheduler.kind === 'auto' && this.classWaiting[cls] === 0 &&
      this.classBytes[cls]! + this.classPrevBytes[cls]! <= SPARSE_FLOW_BYTES
  }

  /** Sends waiting packets, oldest first, while some path takes them. */
  private drainWaiting (nowMs: number): void {
    // Repairs first: new data that went ahead would only lengthen the holes they fill.
    if (this.repairsWaiting.size > 0 && !this.drainRepairs(nowMs)) return
    while (this.waiting.size > 0) {
      const unitId = this.waiting.peek()!
      const slot = unitId % this.repairUnits
      const n = this.scheduler.pick(this.active, this.unitLengths[slot]!, nowMs, this.chosen)
      if (n === 0) {
        if (bestTier(this.active) >= 0) return // paths are up but full: wait for the next tick or batch
        // No path is usable. Often that is only a few ms of silence (either end off-CPU a while
        // under load, its replies late), after which the path answers again: what waits keeps
        // waiting, and only what has waited past the wait's time bound is dropped (the inner
        // flows retransmit it). Dropping all at once turned every such blip into a burst of
        // hundreds of losses.
        this.dropAgedWaiting(nowMs)
        return
      }
      this.waiting.shift(nowMs)
      const cls = this.unitClasses[slot]!
      if (this.classWaiting[cls]! > 0) this.classWaiting[cls]!--
      if (this.unitIds[slot] !== unitId) continue // overwritten while waiting (cannot happen below the ring size)
      // The flow sequence is taken only now: a dropped packet leaves no hole to wait for.
      this.unitFlowSeqs[slot] = this.sequencer.next(this.unitBuckets[slot]!)
      const bucket = this.unitBuckets[slot]!
      if (this.scheduler.kind === 'auto' && bucket !== SPARSE_BUCKET) {
        this.delayKeeper.onChosen(bucket, this.chosen[0]!, this.usablePaths(), this.classBitsPerSec(cls, nowMs), nowMs)
      }
      for (let i = 0; i < n; i++) this.transmit(this.chosen[i]!, slot, unitId, nowMs)
    }
  }

  /** Drops waiting packets that have waited past the wait's time bound (no path can take them). */
  private dropAgedWaiting (nowMs: number): void {
    while (this.waiting.size > 0 && this.waiting.oldestWaitMs(nowMs) >= this.waiting.limitMs) {
      const slot = this.waiting.shift(nowMs) % this.repairUnits
      const cls = this.unitClasses[slot]!
      if (this.classWaiting[cls]! > 0) this.classWaiting[cls]!--
      this.counters.refused++
    }
  }

  private transmit (path: Path, slot: number, unitId: number, nowMs: number, isSparse = false): void {
    const seq = this.transmitData(path, slot, unitId, nowMs, isSparse)
    if (this.fecEncoders[path.id] !== undefined) this.protect(path, seq, slot, nowMs)
  }

  /** Sends unit `slot` on `path` (or queues it for the path's pacer); returns the path sequence it took. */
  private transmitData (path: Path, slot: number, unitId: number, nowMs: number, isSparse: boolean): number {
    const length = this.unitLengths[slot]!
    const seq = path.onSend(length, nowMs, unitId)
    const at = SEALED_HEADER_BYTES
    const total = at + DATA_HEADER_BYTES + length + TAG_BYTES
    this.counters.txPackets++
    this.counters.txBytes += length
    // Paced (outside rate startup, when the rate is not known yet): a burst waits here for the
    // path's pacer instead of overflowing the bottleneck's buffer. The stamp stays the hand-over
    // time: the wait is part of the path's delay, as the model counts it. A sparse flow's unit
    // goes ahead of the pace queue.
    const queue = this.paceQueues[path.id]!
    let isNow = isSparse
    if (!isSparse) {
      const releaseMs = !path.isPaced || path.rate.inStartup ? nowMs : Math.max(queue.lastReleaseMs, path.pacer.sendTimeMs(length, PACING_BURST_BYTES, nowMs))
      queue.lastReleaseMs = releaseMs
      isNow = releaseMs <= nowMs && queue.size === 0
    }
    // Sent now: written straight into the send batch's slot when io offers one (one copy fewer).
    const direct = isNow ? this.io.slotFor?.(path.id, total - TAG_BYTES) : undefined
    const d = direct ?? this.scratch
    writeDataHeader(d, at, path.id, this.unitBuckets[slot]!, this.unitFlowSeqs[slot]!, seq, nowMs)
    // The whole unit slot when d has room (it is mostly a full-size packet anyway): set() with a
    // view made once, where Buffer.copy of [0, length) makes a view per call.
    if (d.length - (at + DATA_HEADER_BYTES) >= this.slotBytes) d.set(this.unitViews[slot]!, at + DATA_HEADER_BYTES)
    else this.unitSlab.copy(d, at + DATA_HEADER_BYTES, slot * this.slotBytes, slot * this.slotBytes + length)
    if (direct !== undefined) {
      const session = this.session!
      this.io.commitUnsealed!(path.id, total - TAG_BYTES, session.sendKey, session.sealLater(d))
      return seq
    }
    if (isNow) { this.sendNow(path.id, d, total); return seq }
    this.session!.seal(d, total)
    if (queue.isFull) { this.releaseDue(nowMs, Infinity); this.io.send(path.id, d, total) }
    else { queue.push(d, total, queue.lastReleaseMs, seq); path.markQueued(seq) }
    return seq
  }

  // ---- FEC (only on a path this end measured lossy: clean paths carry no FEC state or work)

  /**
   * Adds unit `slot`, sent with path sequence `seq` on `path`, to the path's FEC group and sends
   * the parity when that completes the group. Only data is protected: a probe's path sequence is
   * a gap that ends the group (protected, probes alone had a dead or idle path send parities of them).
   */
  private protect (path: Path, seq: number, slot: number, nowMs: number): void {
    const encoder = this.fecEncoders[path.id]!
    if (encoder.groupSize === 0 && encoder.flushDueMs() === Infinity) return
    const member = this.fecMember
    const n = this.unitLengths[slot]!
    member.writeUInt16BE(this.unitBuckets[slot]!, 0)
    member.writeUInt32BE(this.unitFlowSeqs[slot]! % 0x1_0000_0000, 2)
    this.unitSlab.copy(member, FEC_MEMBER_HEADER_BYTES, slot * this.slotBytes, slot * this.slotBytes + n)
    const parity = encoder.add(seq, member.subarray(0, FEC_MEMBER_HEADER_BYTES + n), nowMs)
    if (parity !== undefined) this.sendParity(path, parity, nowMs)
  }

  /**
   * Sends a parity on its path at once. It takes no path sequence (nothing would repair it, and
   * the receiver's loss count stays the data's), but its bytes count in the path's departure model.
   */
  private sendParity (path: Path, parity: ParityUnit, nowMs: number): void {
    const at = SEALED_HEADER_BYTES
    const s = this.scratch
    const n = parity.bytes.length
    if (at + PARITY_HEADER_BYTES + n + TAG_BYTES > s.length) return
    s[at] = MessageKind.Parity
    s[at + 1] = path.id
    s.writeUInt32BE(parity.firstSeq % 0x1_0000_0000, at + 2)
    s[at + 6] = parity.count
    s.writeUInt16BE(parity.lengthXor, at + 7)
    s.set(parity.bytes, at + PARITY_HEADER_BYTES)
    path.pacer.onSend(PARITY_HEADER_BYTES + n + SEALED_HEADER_BYTES + TAG_BYTES, nowMs)
    this.sendControl(path.id, PARITY_HEADER_BYTES + n)
    this.counters.fecParities++
  }

  /** Per tick: FEC on a path once it loses enough (the encoder is made then), its group size, a partial group's parity. */
  private updateFec (path: Path, nowMs: number): void {
    const lossRatio = path.state === 'down' ? 0 : path.loss.lossRatio
    let encoder = this.fecEncoders[path.id]
    if (encoder === undefined) {
      if (!(lossRatio >= FEC_ON_LOSS_RATIO) || this.session === undefined) return
      encoder = this.fecEncoders[path.id] = new FecEncoder(FEC_MEMBER_HEADER_BYTES + this.slotBytes)
    }
    // On and off by the loss as it is now, k by its steadier average (as the simulator does).
    encoder.setLossRatio(lossRatio, path.loss.steadyRatio)
    const parity = encoder.flush(nowMs)
    if (parity !== undefined) this.sendParity(path, parity, nowMs)
    // Clean again and nothing pending: the path goes back to sending without FEC work.
    if (encoder.groupSize === 0 && encoder.flushDueMs() === Infinity) this.fecEncoders[path.id] = undefined
  }

  /** The decoder of path `pathId`, made when its first parity comes. */
  private decoderOf (pathId: number): FecDecoder {
    return this.fecDecoders[pathId] ??= new FecDecoder(FEC_WINDOW_PACKETS, FEC_MEMBER_HEADER_BYTES + this.slotBytes)
  }

  /**
   * A data message d[at, end) with path sequence `seq` arrived on a path the peer protects: its
   * member goes to the decoder, and what that rebuilds goes on.
   */
  private fecOnPacket (decoder: FecDecoder, pathId: number, seq: number, d: Buffer, at: number, end: number, nowMs: number): void {
    d.copy(this.fecMember, 0, at + 2, at + 8)
    d.copy(this.fecMember, FEC_MEMBER_HEADER_BYTES, at + DATA_HEADER_BYTES, end)
    const length = FEC_MEMBER_HEADER_BYTES + end - at - DATA_HEADER_BYTES
    const rebuilt = decoder.onPacket(seq, this.fecMember.subarray(0, length), nowMs)
    this.receivers[pathId]!.nackDelayMs = decoder.nackDelayMs(nowMs, FEC_NACK_WAIT_MS)
    if (rebuilt !== undefined) this.onRebuilt(pathId, rebuilt, nowMs)
  }

  /** A member rebuilt from parity: its nack is taken back, and a data member's packet goes on as if it had come. */
  private onRebuilt (pathId: number, rebuilt: RebuiltUnit, nowMs: number): void {
    this.receivers[pathId]!.onRebuilt(rebuilt.seq)
    const n = rebuilt.bytes.length
    if (n <= FEC_MEMBER_HEADER_BYTES) return // no packet in it (a corrupt parity): nothing to hand on
    const b = this.fecRebuilt
    b.set(rebuilt.bytes)
    if (this.io.admitsRebuilt !== undefined && !this.io.admitsRebuilt(b, FEC_MEMBER_HEADER_BYTES, n - FEC_MEMBER_HEADER_BYTES)) return
    const bucket = b.readUInt16BE(0) % SEQUENCE_BUCKETS
    const last = this.lastFlowSeq[bucket]!
    const flowSeq = unwrapSeq32(Math.max(0, last), b.readUInt32BE(2))
    if (flowSeq > last) this.lastFlowSeq[bucket] = flowSeq
    const id = this.keepPacket(b, FEC_MEMBER_HEADER_BYTES, n)
    const stats = this.reorder.stats
    const dropped = stats.duplicates + stats.late
    this.reorder.push(bucket, flowSeq, id, nowMs)
    if (stats.duplicates + stats.late !== dropped) { this.dropPacket(id); return }
    this.counters.fecRebuilt++
    this.counters.rxPackets++
    this.counters.rxBytes += n - FEC_MEMBER_HEADER_BYTES
  }

  /** FEC per path id, made when a path first turns lossy (sender) or its first parity comes (receiver). */
  private readonly fecEncoders: (FecEncoder | undefined)[] = new Array<FecEncoder | undefined>(MAX_PATHS)
  private readonly fecDecoders: (FecDecoder | undefined)[] = new Array<FecDecoder | undefined>(MAX_PATHS)
  /** A FEC member being built or read: u16 flow bucket, u32 flow seq, inner packet. */
  private get fecMember (): Buffer { return this.fecMemberBuf ??= Buffer.alloc(FEC_MEMBER_HEADER_BYTES + this.slotBytes) }
  private fecMemberBuf: Buffer | undefined
  /** A rebuilt member, copied out of the decoder (whose view the next call reuses). */
  private get fecRebuilt (): Buffer { return this.fecRebuiltBuf ??= Buffer.alloc(FEC_MEMBER_HEADER_BYTES + this.slotBytes) }
  private fecRebuiltBuf: Buffer | undefined
  private readonly parityIn: ParityUnit = { firstSeq: 0, count: 0, lengthXor: 0, bytes: new Uint8Array(0) }

  /**
   * Hands the data datagram d[0, total) to io now: sealed with the rest of the send batch in one
   * addon call when io can (sendUnsealed), else sealed here.
   */
  private sendNow (pathId: number, d: Buffer, total: number): void {
    const session = this.session!
    if (this.io.sendUnsealed !== undefined) {
      this.io.sendUnsealed(pathId, d, total - TAG_BYTES, session.sendKey, session.sealLater(d))
      return
    }
    session.seal(d, total)
    this.io.send(pathId, d, total)
  }

  /**
   * Sends paced datagrams that are due and the waiting packets a path has room for; returns when
   * to call again (the next paced release, or when a path's bottleneck queue is back under its
   * budget while packets wait; Infinity when nothing waits).
   */
  releasePaced (nowMs: number): number {
    let next = this.releaseDue(nowMs, nowMs)
    if (this.waiting.size > 0 || this.repairsWaiting.size > 0) {
      this.drainWaiting(nowMs)
      // At least half a ms ahead: a path refused for another reason than its budget must not spin the timer.
      if (this.repairsWaiting.size > 0) next = Math.min(next, Math.max(nowMs + 0.5, this.repairScheduler.nextRoomMs(this.active, nowMs)))
      else if (this.waiting.size > 0 && this.scheduler instanceof AutoScheduler) next = Math.min(next, Math.max(nowMs + 0.5, this.scheduler.nextRoomMs(this.active, nowMs)))
    }
    return next
  }

  /** Sends paced datagrams due by `dueMs`; returns the next release time (Infinity when none wait). */
  private releaseDue (nowMs: number, dueMs: number): number {
    let next = Infinity
    for (let i = 0; i < this.active.length; i++) {
      const path = this.active[i]!
      const id = path.id
      const queue = this.paceQueues[id]!
      if (queue.size === 0) continue
      queue.release(dueMs, (datagram, length, seq) => {
        this.io.send(id, datagram, length)
        path.markReleased(seq, nowMs)
      })
      if (queue.nextReleaseMs < next) next = queue.nextReleaseMs
    }
    return next
  }

  /** Sends the units in lostUnits again, each on the path where it arrives first; those that find no room wait (see REPAIR_BUDGET_MS). */
  private resend (nowMs: number): void {
    const lost = this.lostUnits
    for (let i = 0; i < lost.length; i++) {
      const unitId = lost[i]!
      const slot = unitId % this.repairUnits
      if (this.unitIds[slot] !== unitId) continue // overwritten: too old to repair
      // Behind repairs already waiting, in order; with no path usable at all, given up (the inner flow resends).
      const n = this.repairsWaiting.size > 0 ? 0 : this.repairScheduler.pick(this.active, this.unitLengths[slot]!, nowMs, this.chosen)
      if (n === 0) {
        if (bestTier(this.active) < 0) continue
        if (this.repairsWaiting.size < this.repairsWaiting.capacity) { this.repairsWaiting.push(unitId, nowMs); continue }
        if (this.repairScheduler.pick(this.active, this.unitLengths[slot]!, nowMs, this.chosen) === 0) continue
      }
      this.sendRepair(slot, unitId, nowMs)
    }
    lost.length = 0
  }

  /** Sends waiting repairs, oldest first, while a path has room for them; returns whether none is left waiting. */
  private drainRepairs (nowMs: number): boolean {
    while (this.repairsWaiting.size > 0) {
      const unitId = this.repairsWaiting.peek()!
      const slot = unitId % this.repairUnits
      if (this.unitIds[slot] === unitId && this.repairScheduler.pick(this.active, this.unitLengths[slot]!, nowMs, this.chosen) === 0) {
        if (bestTier(this.active) >= 0) return false
        this.repairsWaiting.clear() // no path at all: the inner flows resend
        return true
      }
      this.repairsWaiting.shift(nowMs)
      if (this.unitIds[slot] === unitId) this.sendRepair(slot, unitId, nowMs)
    }
    return true
  }

  /** Sends unit `slot` again on this.chosen[0] (a repair keeps its flow sequence). */
  private sendRepair (slot: number, unitId: number, nowMs: number): void {
    this.counters.repairs++
    if (this.tracedRepairs !== undefined) this.tracedRepairs.push(`${this.unitBuckets[slot]!}/${this.unitFlowSeqs[slot]!}->${this.chosen[0]!.id}`)
    this.transmit(this.chosen[0]!, slot, unitId, nowMs)
  }

  /** Seals a control message already written at scratch[14, 14 + length) and sends it on `pathId`. */
  private sendControl (pathId: number, messageLength: number): void {
    if (this.session === undefined) return
    const total = SEALED_HEADER_BYTES + messageLength + TAG_BYTES
    this.session.seal(this.scratch, total)
    this.io.send(pathId, this.scratch, total)
  }

  /**
   * Tells the receiver which packets lost to a full bottleneck queue will not be repaired, so it
   * skips their holes at once instead of holding every packet behind them for the hold time.
   */
  private sendAbandon (pathId: number): void {
    const units = this.abandonedUnits
    const at = SEALED_HEADER_BYTES
    let count = 0
    for (let i = 0; i < units.length && count < MAX_ABANDON_PER_MESSAGE; i++) {
      const slot = units[i]! % this.repairUnits
      if (this.unitIds[slot] !== units[i]) continue
      this.scratch.writeUInt16BE(this.unitBuckets[slot]!, at + 3 + 6 * count)
      this.scratch.writeUInt32BE(this.unitFlowSeqs[slot]! % 0x1_0000_0000, at + 5 + 6 * count)
      count++
    }
    units.length = 0
    if (count === 0) return
    this.scratch[at] = MessageKind.Abandon
    this.scratch[at + 1] = pathId
    this.scratch[at + 2] = count
    this.sendControl(pathId, 3 + 6 * count)
  }

  private sendFeedback (pathId: number, nowMs: number): void {
    const receiver = this.receivers[pathId]
    if (receiver === undefined) return
    const fb = receiver.writeFeedback(nowMs, this.feedback)
    this.sendControl(pathId, writeFeedback(this.scratch, SEALED_HEADER_BYTES, pathId, pathId, fb))
    if (fb.nackCount === 0) return
    // Nacks also go on the fastest path: the repair of a loss on a slow path then starts that
    // path's delay sooner (l2's 60 ms one way, against l1's 10, in the lab). The copy names the
    // path it is about and carries no echo: its way is another path's (see copyOfFeedback).
    const fastest = this.fastestPath()
    if (fastest === undefined || fastest.id === pathId) return
    copyOfFeedback(fb)
    this.sendControl(fastest.id, writeFeedback(this.scratch, SEALED_HEADER_BYTES, fastest.id, pathId, fb))
    this.counters.nackCopies++
  }

  /**
   * Says over the fastest other path that path `pathId` has gone silent here (a copy of its
   * feedback whose ack delay is the silence, see PathReceiver.silenceReportDue): its own feedback
   * would go the dead way, and the sender would find out only after that path's round trip and timeout.
   */
  private sendSilenceReport (pathId: number, nowMs: number): void {
    const fastest = this.fastestPath(pathId)
    if (fastest === undefined) return
    const fb = copyOfFeedback(this.receivers[pathId]!.writeSilenceReport(nowMs, this.feedback))
    this.sendControl(fastest.id, writeFeedback(this.scratch, SEALED_HEADER_BYTES, fastest.id, pathId, fb))
    this.counters.silenceReports++
  }

  /** The latest arrival on any path but `pathId` (-Infinity: none). */
  private othersLastRxMs (pathId: number): number {
    let latest = -Infinity
    for (let i = 0; i < this.active.length; i++) {
      const id = this.active[i]!.id
      if (id !== pathId && this.receivers[id]!.lastRxMs > latest) latest = this.receivers[id]!.lastRxMs
    }
    return latest
  }

  /** Our usable path with the least smoothed RTT (undefined: none measured), other than `exceptId`. */
  private fastestPath (exceptId = -1): Path | undefined {
    let best: Path | undefined
    for (let i = 0; i < this.active.length; i++) {
      const p = this.active[i]!
      if (p.state !== 'up' || !p.rtt.hasSample() || p.id === exceptId) continue
      if (best === undefined || p.rtt.srttMs < best.rtt.srttMs) best = p
    }
    return best
  }

  private sendProbe (path: Path, nowMs: number, flags = 0, totalBytes = PROBE_BYTES): void {
    const seq = path.onSend(totalBytes, nowMs)
    const length = writeProbe(this.scratch, SEALED_HEADER_BYTES, path.id, seq, nowMs, flags, totalBytes)
    this.sendControl(path.id, length)
  }

  /** A padded probe whose outer IP packet is exactly `outerBytes` (DF is set on our sockets). */
  private sendMtuProbe (path: Path, outerBytes: number, nowMs: number): void {
    const messageBytes = outerBytes - this.ipUdpBytes[path.id]! - SEALED_HEADER_BYTES - TAG_BYTES
    if (messageBytes < PROBE_HEADER_BYTES || SEALED_HEADER_BYTES + messageBytes + TAG_BYTES > this.scratch.length) return
    this.sendProbe(path, nowMs, ProbeFlags.Mtu, messageBytes)
  }

  /** Inner MTU that every usable path carries (what the TUN's MTU should be). */
  get innerMtuBytes (): number { return this.innerMtu }

  private updateInnerMtu (): void {
    let smallest = Infinity
    let any = Infinity
    for (const path of this.active) {
      const inner = this.pmtu[path.id]!.usableBytes - this.ipUdpBytes[path.id]! - DATA_OVERHEAD_BYTES
      if (inner < any) any = inner
      if ((path.state === 'up' || path.state === 'degraded' || path.state === 'backup') && inner < smallest) smallest = inner
    }
    const mtu = Math.min(this.options.mtuBytes, Number.isFinite(smallest) ? smallest : any)
    if (!Number.isFinite(mtu) || mtu === this.innerMtu || mtu < 68) return
    this.innerMtu = mtu
    this.options.onInnerMtu?.(mtu)
  }

  /** Sends a rekey message (kind RekeyInit or RekeyReply) on `pathId`. */
  sendRekeyMessage (kind: MessageKind.RekeyInit | MessageKind.RekeyReply, message: Buffer, pathId: number): void {
    this.scratch[SEALED_HEADER_BYTES] = kind
    this.scratch[SEALED_HEADER_BYTES + 1] = pathId
    message.copy(this.scratch, SEALED_HEADER_BYTES + 2)
    this.sendControl(pathId, 2 + message.length)
  }

  /** The path to send control messages on: the first usable one, else any. */
  bestControlPath (): Path | undefined {
    let fallback: Path | undefined
    for (const p of this.active) {
      if (p.state === 'up' || p.state === 'degraded') return p
      fallback ??= p
    }
    return fallback
  }

  // ---- receiving

  /**
   * Handles an opened datagram d[start, start + length) (plaintext at [start + 14, start + length
   * - 16)): a receive batch passes its arena and an offset, no view per datagram. Returns the
   * path id it came on, or -1 when the message was malformed (counted).
   */
  onMessage (d: Buffer, length: number, nowMs: number, start = 0): number {
    const at = start + SEALED_HEADER_BYTES
    const end = start + length - TAG_BYTES
    const kind = d[at]
    const pathId = d[at + 1]!
    const receiver = this.receivers[pathId]
    if (receiver === undefined) {
      this.counters.malformed++
      return -1
    }
    switch (kind) {
      case MessageKind.Data: {
        if (end - at < DATA_HEADER_BYTES) break
        const stampSeq = unwrapSeq32(Math.max(0, receiver.highestSeq), d.readUInt32BE(at + 8))
        const packetLength = end - at - DATA_HEADER_BYTES
        this.stamp.pathSeq = stampSeq
        this.stamp.txTimeMs = d.readDoubleBE(at + 12)
        receiver.onPacket(this.stamp, packetLength, nowMs, false)
        // (A packet it rebuilds is older than this one: it goes into the reorder buffer first.)
        const decoder = this.fecDecoders[pathId]
        if (decoder !== undefined) this.fecOnPacket(decoder, pathId, stampSeq, d, at, end, nowMs)
        if (receiver.isFeedbackDue(nowMs)) this.sendFeedback(pathId, nowMs)
        const bucket = d.readUInt16BE(at + 2) % SEQUENCE_BUCKETS
        const last = this.lastFlowSeq[bucket]!
        const flowSeq = unwrapSeq32(Math.max(0, last), d.readUInt32BE(at + 4))
        if (flowSeq > last) this.lastFlowSeq[bucket] = flowSeq
        this.counters.rxPackets++
        this.counters.rxBytes += packetLength
        if (this.delayLine !== undefined && (this.equalDelayAll || ipProtocolOf(d, at + DATA_HEADER_BYTES, end) === IPPROTO_TCP)) {
          const holdMs = equalizingHoldMs(receiver.delay.minRelMs, this.slowestBaseMs)
          if (holdMs > 0 && this.delayLine.hasRoom(pathId)) {
            this.delayLine.push(pathId, nowMs + holdMs, bucket, flowSeq, this.keepPacket(d, at + DATA_HEADER_BYTES, end))
            return pathId
          }
        }
        if (this.reorder.isNext(bucket, flowSeq)) {
          // In order (the usual case): handed on straight from the datagram, no copy kept.
          this.directPacket = d
          this.directStart = at + DATA_HEADER_BYTES
          this.directEnd = end
          this.reorder.push(bucket, flowSeq, DIRECT_PACKET, nowMs)
          this.directPacket = undefined
          return pathId
        }
        // The datagram buffer is reused by the next read: the reorder buffer keeps a copy (in the pool).
        this.pushKept(bucket, flowSeq, this.keepPacket(d, at + DATA_HEADER_BYTES, end), pathId, nowMs)
        return pathId
      }
      case MessageKind.Probe: {
        if (end - at < PROBE_HEADER_BYTES) break
        this.stamp.pathSeq = unwrapSeq32(Math.max(0, receiver.highestSeq), d.readUInt32BE(at + 2))
        this.stamp.txTimeMs = d.readDoubleBE(at + 6)
        receiver.onPacket(this.stamp, end - at, nowMs, true)
        this.sendFeedback(pathId, nowMs)
        if ((d[at + 14]! & ProbeFlags.Mtu) !== 0) {
          // Tell the sender how big a datagram made it through.
          this.scratch[SEALED_HEADER_BYTES] = MessageKind.MtuReply
          this.scratch[SEALED_HEADER_BYTES + 1] = pathId
          this.scratch.writeUInt16BE(length, SEALED_HEADER_BYTES + 2)
          this.sendControl(pathId, 4)
        }
        return pathId
      }
      case MessageKind.MtuReply: {
        if (end - at < 4) break
        const search = this.pmtu[pathId]!
        search.onProbeAnswered(d.readUInt16BE(at + 2) + this.ipUdpBytes[pathId]!, nowMs)
        this.updateInnerMtu()
        return pathId
      }
      case MessageKind.Feedback: {
        const about = this.byId[d[at + 2]!]
        if (about === undefined) break
        // Every send on a path (data or probe) took one sequence, so txPackets is its next sequence.
        const aboutId = readFeedback(d, at, end - at, about.counters.txPackets, this.feedback)
        if (aboutId < 0) break
        // Sent on another path than the one it is about: a copy for its nacks (see sendFeedback).
        about.onFeedback(this.feedback, nowMs, this.lostUnits, this.abandonedUnits, aboutId !== pathId)
        // A silence report can take the path down here: what waits in its pace queue would go into the void (its units were handed back).
        if (about.state === 'down' && this.paceQueues[about.id]!.size > 0) this.paceQueues[about.id]!.clear()
        const traced = this.holeTrace !== undefined && (this.lostUnits.length > 0 || this.abandonedUnits.length > 0)
        const abandoned = traced ? this.unitsText(this.abandonedUnits) : ''
        if (traced) this.tracedRepairs = []
        this.resend(nowMs)
        if (traced) { this.holeTrace!.onNacks(about.id, this.tracedRepairs!.join(' '), abandoned, nowMs); this.tracedRepairs = undefined }
        if (this.abandonedUnits.length > 0) this.sendAbandon(pathId)
        return pathId
      }
      case MessageKind.Parity: {
        if (end - at < PARITY_HEADER_BYTES) break
        const decoder = this.decoderOf(pathId)
        const parity = this.parityIn
        parity.firstSeq = unwrapSeq32(Math.max(0, receiver.highestSeq), d.readUInt32BE(at + 2))
        parity.count = d[at + 6]!
        parity.lengthXor = d.readUInt16BE(at + 7)
        parity.bytes = d.subarray(at + PARITY_HEADER_BYTES, end)
        const invalid = decoder.stats.invalid
        const rebuilt = decoder.onParity(parity, nowMs)
        parity.bytes = EMPTY_BYTES
        receiver.nackDelayMs = decoder.nackDelayMs(nowMs, FEC_NACK_WAIT_MS)
        if (rebuilt !== undefined) this.onRebuilt(pathId, rebuilt, nowMs)
        // Two or more of its group are missing: their nacks stop waiting for a parity.
        else if (decoder.lastMissing >= 2) receiver.nackNow(parity.firstSeq, parity.count, nowMs)
        if (receiver.isFeedbackDue(nowMs)) this.sendFeedback(pathId, nowMs)
        if (decoder.stats.invalid !== invalid) break // counted as malformed
        return pathId
      }
      case MessageKind.Abandon: {
        const count = d[at + 2]!
        if (end - at < 3 + 6 * count) break
        if (this.holeTrace) this.holeTrace.cause = `abandoned, on path ${pathId}`
        for (let i = 0; i < count; i++) {
          const bucket = d.readUInt16BE(at + 3 + 6 * i) % SEQUENCE_BUCKETS
          const seq = unwrapSeq32(Math.max(0, this.lastFlowSeq[bucket]!), d.readUInt32BE(at + 5 + 6 * i))
          this.reorder.abandon(bucket, seq, nowMs)
        }
        return pathId
      }
      case MessageKind.RekeyInit: {
        const reply = this.session?.onRekeyInit(d.subarray(at + 2, end))
        if (reply) this.sendRekeyMessage(MessageKind.RekeyReply, reply, pathId)
        return pathId
      }
      case MessageKind.RekeyReply:
        this.session?.onRekeyReply(d.subarray(at + 2, end), nowMs)
        return pathId
      case MessageKind.Close:
        this.closedByPeer = true
        this.closeReason = end > at + 2 ? d[at + 2]! : 0
        return pathId
    }
    this.counters.malformed++
    return -1
  }

  /** Hands a kept copy (keepPacket) to the reorder buffer; drops it there if it is a duplicate or late. */
  private pushKept (bucket: number, flowSeq: number, id: number, pathId: number, nowMs: number): void {
    const stats = this.reorder.stats
    const dropped = stats.duplicates + stats.late
    const late = stats.late
    if (this.holeTrace) this.holeTrace.cause = 'window overflow'
    this.reorder.push(bucket, flowSeq, id, nowMs)
    if (stats.duplicates + stats.late !== dropped) this.dropPacket(id)
    if (this.holeTrace && stats.late !== late) this.holeTrace.onLate(bucket, flowSeq, pathId, nowMs)
  }

  /**
   * With `equalDelay`: what came over faster paths and has waited out its hold goes on to the
   * reorder buffer (`all`: everything, at once), which takes it as arriving at `nowMs`.
   */
  private releaseDelayed (nowMs: number, all = false): void {
    if (this.delayLine === undefined) return
    this.delayLineNowMs = nowMs
    if (all) this.delayLine.releaseAll()
    else this.delayLine.releaseDue(nowMs)
  }

  /** With `equalDelay`: the largest base one-way delay among the paths that count (countsForEqualDelay). */
  private updateSlowestBase (nowMs: number): void {
    let slowest = -Infinity
    for (let i = 0; i < this.active.length; i++) {
      const path = this.active[i]!
      const receiver = this.receivers[path.id]!
      if (!countsForEqualDelay(path.state, nowMs - receiver.lastRxMs)) continue
      if (Number.isFinite(receiver.delay.minRelMs) && receiver.delay.minRelMs > slowest) slowest = receiver.delay.minRelMs
    }
    this.slowestBaseMs = slowest
  }

  /** Copies a received inner packet out of the datagram buffer; returns its id for the reorder buffer. */
  private keepPacket (d: Buffer, start: number, end: number): number {
    if (end - start > this.rxPool.slotBytes) {
      const id = this.nextOversizedId--
      this.oversized.set(id, Buffer.from(d.subarray(start, end)))
      return id
    }
    const id = this.rxPool.take()
    this.rxPool.write(id, d, start, end)
    return id
  }

  private deliverPacket (id: number): void {
    if (id === DIRECT_PACKET) {
      this.io.deliver(this.directPacket!, this.directStart, this.directEnd - this.directStart)
      return
    }
    if (id < 0) {
      const packet = this.oversized.get(id)!
      this.oversized.delete(id)
      this.io.deliver(packet, 0, packet.length)
      return
    }
    this.io.deliver(this.rxPool.slabOf(id), this.rxPool.offsetOf(id), this.rxPool.lengthOf(id))
    this.rxPool.release(id)
  }

  private dropPacket (id: number): void {
    if (id < 0) this.oversized.delete(id)
    else this.rxPool.release(id)
  }

  /** With `equalDelay` (see DelayLine): packets from faster paths wait there before the reorder buffer. */
  private readonly delayLine: DelayLine | undefined
  /** `equalDelay` is 'all': every packet waits in the delay line, not TCP segments only. */
  private readonly equalDelayAll: boolean
  /** The time releaseDelayed passes to the reorder buffer for what it releases. */
  private delayLineNowMs = 0
  /** The largest base one-way delay of the live paths (updateSlowestBase; -Infinity: none known). */
  private slowestBaseMs = -Infinity
  /** The datagram whose in-order packet is being pushed as DIRECT_PACKET: [directStart, directEnd). */
  private directPacket: Buffer | undefined
  private directStart = 0
  private directEnd = 0
  private readonly stamp = { pathSeq: 0, txTimeMs: 0 }
  /** The peer said it is going away (CLOSE), and why (CloseReason; 0 if it did not say). */
  closedByPeer = false
  closeReason = 0

  /** Tells the peer we are going away, on every path (best effort: a lost CLOSE only means the peer times us out). */
  sendClose (reason: number): void {
    for (const path of this.active) {
      this.scratch[SEALED_HEADER_BYTES] = MessageKind.Close
      this.scratch[SEALED_HEADER_BYTES + 1] = path.id
      this.scratch[SEALED_HEADER_BYTES + 2] = reason
      this.sendControl(path.id, 3)
    }
  }

  // ---- housekeeping (every few ms)

  tick (nowMs: number): void {
    if (this.delayLine !== undefined) {
      this.updateSlowestBase(nowMs)
      this.releaseDelayed(nowMs)
    }
    this.releasePaced(nowMs)
    this.drainWaiting(nowMs)
    for (let i = 0; i < this.active.length; i++) {
      const path = this.active[i]!
      path.update(nowMs, this.lostUnits)
      if (this.scheduler.kind === 'auto') this.searchIfStarved(path, nowMs)
      if (this.holeTrace) this.holeTrace.onTick(path, nowMs)
      this.updateFec(path, nowMs)
      // A path that went down handed its units back (lostUnits): what waits in its pace queue would only go into the void.
      if (path.state === 'down' && this.paceQueues[path.id]!.size > 0) this.paceQueues[path.id]!.clear()
      if (this.lostUnits.length > 0) this.resend(nowMs)
      if (this.session !== undefined && path.isProbeDue(nowMs)) this.sendProbe(path, nowMs)
      if (this.session !== undefined && path.state !== 'down') {
        const retryMs = Math.max(100, 3 * path.rtt.srttMs)
        const size = this.pmtu[path.id]!.probeDue(nowMs, retryMs)
        if (size > 0) this.sendMtuProbe(path, size, nowMs)
      }
      const receiver = this.receivers[path.id]!
      const decoder = this.fecDecoders[path.id]
      if (decoder !== undefined) {
        receiver.nackDelayMs = decoder.nackDelayMs(nowMs, FEC_NACK_WAIT_MS)
        // The peer stopped sending parity here (the path is clean again): no more copies per packet.
        if (!decoder.isActive(nowMs)) this.fecDecoders[path.id] = undefined
      }
      if (receiver.nextFeedbackMs() <= nowMs && receiver.isFeedbackDue(nowMs)) this.sendFeedback(path.id, nowMs)
      if (receiver.silenceReportDue(nowMs, this.othersLastRxMs(path.id))) this.sendSilenceReport(path.id, nowMs)
    }
    const session = this.session
    if (session !== undefined) {
      const rekey = session.rekeyMessageDue(nowMs)
      if (rekey !== null) {
        const path = this.bestControlPath()
        if (path) this.sendRekeyMessage(MessageKind.RekeyInit, rekey, path.id)
      }
      session.sweep(nowMs)
    }
    this.updateInnerMtu()
    const { spreadMs, jitterMs } = delaySpreadOf(this.liveReceivers(), nowMs)
    this.reorder.holdTime.setSpread(spreadMs, jitterMs)
    this.lastRepairWaitMs = this.repairWaitMs(nowMs)
    this.reorder.holdTime.setRepairWait(this.lastRepairWaitMs)
    if (this.holeTrace) this.holeTrace.cause = 'hold ran out'
    this.reorder.expire(nowMs)
    const overflowed = this.overflowLog.due(this.reorder.stats.overflowSkipped, nowMs)
    if (overflowed > 0) this.options.log.warn(`${this.options.label ?? 'peer'}: reorder window of ${REORDER_WINDOW_PACKETS} packets per flow class overflowed; ${overflowed} missing packets given up on (total ${this.reorder.stats.overflowSkipped})`)
  }

  private liveReceivers (): PathReceiver[] {
    this.receiverList.length = 0
    for (const p of this.active) this.receiverList.push(this.receivers[p.id]!)
    return this.receiverList
  }

  private readonly receiverList: PathReceiver[] = []

  /**
   * How long a hole on a path that loses packets at random may need (its nack's way back and the
   * repair's way out; repairWaitOf), 0 while no path does: then the hold is the delay spread alone.
   * Call after liveReceivers() (same order).
   */
  private repairWaitMs (nowMs: number): number {
    let anyLossy = false
    this.lossyList.length = 0
    this.srttList.length = 0
    for (const path of this.active) {
      const receiver = this.receivers[path.id]!
      this.incomingLoss.update(path.id, receiver.highestSeq, receiver.receivedPackets)
      // Lossy as this end measures it, or protected by the peer's parity (its sender measured loss there).
      const lossy = this.incomingLoss.isLossy(path.id) || this.fecDecoders[path.id]?.isActive(nowMs) === true
      anyLossy ||= lossy
      this.lossyList.push(lossy)
      this.srttList.push(path.rtt.hasSample() ? path.rtt.srttMs : NaN)
    }
    return anyLossy ? REPAIR_WAIT_MARGIN * repairWaitOf(this.receiverList, this.srttList, this.lossyList, nowMs, true) : 0
  }

  private readonly incomingLoss = new IncomingLoss()
  private lastRepairWaitMs = 0
  /** With traceHoles: see HoleTrace; `tracedRepairs` collects one feedback's repairs. */
  private readonly holeTrace: HoleTrace | undefined
  private tracedRepairs: string[] | undefined

  /** A starved path (see StarvedPaths) searches its rate again. */
  private searchIfStarved (path: Path, nowMs: number): void {
    const figures = this.starvedFigures
    figures.isUsable = path.state === 'up' && path.rate.hasEstimate()
    figures.planningBitsPerSec = path.planningRateBitsPerSec()
    figures.dataSent = path.counters.txPackets - path.counters.probes
    if (!this.starvedPaths.isStarved(path.id, figures, nowMs)) return
    this.options.log.debug(`${this.options.label ?? 'peer'}: path ${path.id} starved at ${(path.rate.estimateBitsPerSec / 1e6).toFixed(3)} Mbit/s: searching its rate again`)
    path.rate.restartStartup(nowMs, INITIAL_RATE_BITS_PER_SEC)
  }

  private readonly starvedFigures: PathFigures = { isUsable: false, planningBitsPerSec: 0, dataSent: 0 }

  /** The ids of the paths the last tick held for repairs of (for HoleTrace). */
  private lossyPathsText (): string {
    let text = ''
    for (let i = 0; i < this.lossyList.length; i++) if (this.lossyList[i] === true) text += `${text === '' ? '' : ' '}${this.active[i]?.id ?? '?'}`
    return text
  }

  /** Units as `bucket/flowSeq` (for HoleTrace). */
  private unitsText (units: readonly number[]): string {
    const parts: string[] = []
    for (const unitId of units) {
      const slot = unitId % this.repairUnits
      if (this.unitIds[slot] === unitId) parts.push(`${this.unitBuckets[slot]!}/${this.unitFlowSeqs[slot]!}`)
    }
    return parts.join(' ')
  }
  private readonly lossyList: boolean[] = []
  private readonly srttList: number[] = []
}
