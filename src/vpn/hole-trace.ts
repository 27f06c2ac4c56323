/**
 * Debug tracing of the holes in a flow's sequence (ttt --log-level debug): on the receiving end each
 * hole the reorder buffer gave up on (with the hold it had and why: its hold ran out, or the sender
 * abandoned it), and each packet that came after its hole was given up on (on which path, how late);
 * on the sending end each nack (on which path, repaired or abandoned). Together they tell a loss
 * the inner TCP had to see (a full bottleneck queue) from one the tunnel should have repaired in
 * time. Holes are rare, so a line per event costs nothing on a path that does not lose packets.
 * Pure: the caller passes the time and a logger.
 */
import type { Logger } from '../log.js'
import type { Path } from '../multipath/index.js'

/** Skips remembered for their late arrival (a ring: older ones are forgotten). */
const REMEMBERED_SKIPS = 4096
/** Path ids are one byte on the wire. */
const PATH_IDS = 256

export class HoleTrace {
  private readonly skipKeys = new Float64Array(REMEMBERED_SKIPS).fill(-1)
  private readonly skipAtMs = new Float64Array(REMEMBERED_SKIPS)
  private skipCursor = 0
  /** Why the next skips happen (set around the reorder buffer's calls). */
  cause = 'hold'
  /** The time of the first traced event: lines carry the time since it. */
  private originMs = NaN
  private readonly tracedRateBps = new Float64Array(PATH_IDS)
  private readonly tracedStartup = new Uint8Array(PATH_IDS)
  private readonly tracedState: string[] = []

  constructor (private readonly log: Logger, private readonly label: string) {}

  private at (nowMs: number): string {
    if (Number.isNaN(this.originMs)) this.originMs = nowMs
    return `+${(nowMs - this.originMs).toFixed(0)} ms`
  }

  /** The reorder buffer gave up on `seq` of `bucket`; `holdMs`: its hold then; `lossy`: the paths it held for repairs of. */
  onSkip (bucket: number, seq: number, nowMs: number, holdMs: number, repairWaitMs: number, lossy: string): void {
    this.skipKeys[this.skipCursor] = keyOf(bucket, seq)
    this.skipAtMs[this.skipCursor] = nowMs
    this.skipCursor = (this.skipCursor + 1) % REMEMBERED_SKIPS
    this.log.debug(`${this.label}: hole ${bucket}/${seq} skipped (${this.cause}) ${this.at(nowMs)}, hold ${holdMs.toFixed(0)} ms, repair wait ${repairWaitMs.toFixed(0)} ms, lossy paths [${lossy}]`)
  }

  /** How long ago `seq` of `bucket` was skipped (NaN: not remembered). */
  skippedAgoMs (bucket: number, seq: number, nowMs: number): number {
    const key = keyOf(bucket, seq)
    for (let i = 0; i < REMEMBERED_SKIPS; i++) if (this.skipKeys[i] === key) return nowMs - this.skipAtMs[i]!
    return NaN
  }

  /** `seq` of `bucket` came on `pathId` after its hole was skipped. */
  onLate (bucket: number, seq: number, pathId: number, nowMs: number): void {
    const agoMs = this.skippedAgoMs(bucket, seq, nowMs)
    this.log.debug(`${this.label}: hole ${bucket}/${seq} filled late on path ${pathId} ${this.at(nowMs)}, ${Number.isNaN(agoMs) ? '?' : agoMs.toFixed(0)} ms after its skip`)
  }

  /** The peer nacked these units (`bucket/seq` each) on path `pathId`: `repaired` are sent again, `abandoned` are not. */
  onNacks (pathId: number, repaired: string, abandoned: string, nowMs: number): void {
    this.log.debug(`${this.label}: path ${pathId} nacked ${this.at(nowMs)}: repaired [${repaired}] abandoned [${abandoned}]`)
  }

  /**
   * Once per housekeeping tick per path: a line when its state changes, or its rate estimate
   * leaves or enters startup or moves by 2x (how an idle path's estimate can wear down to nothing).
   */
  onTick (path: Path, nowMs: number): void {
    const bps = path.rate.estimateBitsPerSec
    const startup = path.rate.inStartup ? 1 : 2
    const last = this.tracedRateBps[path.id]!
    if (startup === this.tracedStartup[path.id] && bps < 2 * last && bps > last / 2 && path.state === this.tracedState[path.id]) return
    this.tracedRateBps[path.id] = bps
    this.tracedStartup[path.id] = startup
    this.tracedState[path.id] = path.state
    this.log.debug(`${this.label}: rate path ${path.id} ${(bps / 1e6).toFixed(3)} Mbit/s ${startup === 1 ? 'startup' : 'steady'} at ${nowMs.toFixed(0)} ms: state ${path.state}, srtt ${path.rtt.srttMs.toFixed(1)} ms, overdue ${path.overdueMs(nowMs).toFixed(0)} ms, loss ${(path.loss.lossRatio * 100).toFixed(1)} %, queue ${path.delay.latestQueueDelayMs().toFixed(1)} ms, sent ${path.counters.txPackets} (${path.counters.probes} probes)`)
  }
}

function keyOf (bucket: number, seq: number): number { return seq * 1024 + bucket }
