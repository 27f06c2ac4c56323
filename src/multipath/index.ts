/**
 * The multipath core: path estimation, failure detection, schedulers and reordering, shared by
 * the VPN (one unit = one UDP packet) and the TCP pipe (one unit = one chunk on a TCP subflow).
 * Pure code: every call takes `nowMs` (monotonic ms), randomness is injected, nothing here
 * opens a socket, starts a timer or reads a clock. The caller owns the loop.
 *
 * Sender (per unit):
 *   const n = scheduler.pick(paths, bytes, nowMs, chosen)     // chosen: Path[] reused by the caller
 *   for each chosen path p:  seq = p.onSend(bytes, nowMs, unitId)
 *     -> stamp { pathSeq: seq, txTimeMs: nowMs } and the flow class { bucket, flowSeq } on the packet
 *   flowSeq comes from FlowSequencer.next(bucket), bucket = flowBucketOf(innerPacket)
 * Sender (per feedback about path p, and on a timer at least every probe interval):
 *   p.onFeedback(fb, nowMs, lostUnits)   // lostUnits: units to send again on another path (repair)
 *   p.update(nowMs, reinjectUnits)       // time-based state changes; units stranded on a path that went down
 *   if (p.isProbeDue(nowMs)) send a probe: seq = p.onSend(probeBytes, nowMs) (no unit id)
 * Receiver (per packet on path p):
 *   receivers[p].onPacket(stamp, bytes, nowMs, isProbe)
 *   if (receivers[p].isFeedbackDue(nowMs)) send receivers[p].writeFeedback(nowMs, fb)   (a probe: at once, on p)
 *   reorder.push(bucket, flowSeq, packet, nowMs)  -> deliver(packet) in order per bucket
 * Receiver (timer at reorder.nextDeadlineMs() and receivers' nextFeedbackMs()):
 *   reorder.expire(nowMs); reorder.holdTime.setSpread(...delaySpreadOf(receivers, nowMs))
 *
 * Pipe mode has no per-packet feedback: feed the path plain samples from TCP_INFO instead
 * (addRttSample, addDeliveryRateSample, externalQueuedBytes = tcpi_notsent_bytes) and call
 * markHeard(nowMs) when the subflow proves alive (acked data or a pong); units stranded on a
 * subflow that goes down come back from update(nowMs, reinjectUnits).
 *
 * Data flow inside a Path: feedback -> RttEstimator (srtt, rttvar, min), OneWayDelayTrend
 * (queueing delay, jitter), LossEstimator (per-path sequence gaps), RateEstimator (delivery
 * rate, startup/probe gains, back-off when queueing exceeds the Pacer's model) -> Pacer (model
 * of the bytes queued at the bottleneck) -> expectedArrivalMs(), which `auto` minimises.
 */
export * from './constants.js'
export { RttEstimator } from './rtt-estimator.js'
export { OneWayDelayTrend } from './delay-trend.js'
export { LossEstimator } from './loss-estimator.js'
export { RateEstimator } from './rate-estimator.js'
export { Pacer } from './pacer.js'
export { nextPathState, isUsableState, type PathState, type PathSignals } from './path-state.js'
export { Path, type PathOptions, type PathPreference, type PathCounters } from './path.js'
export { type PathStamp, type PathFeedback, createFeedback, unwrapSeq32, PathReceiver, delaySpreadOf } from './feedback.js'
export {
  type Scheduler, type SchedulerKind, type WeightedMethod, AutoScheduler, WeightedScheduler, RedundantScheduler,
  createScheduler, bestTier, isInTier,
} from './scheduler.js'
export { flowBucketOf, FlowSequencer } from './flow-class.js'
export { HoldTimeEstimator } from './hold-time.js'
export { ReorderBuffer, type ReorderOptions, type ReorderStats } from './reorder-buffer.js'
