/**
 * The multipath core: path estimation, failure detection, schedulers and reordering, shared by
 * the VPN (one unit = one UDP packet) and the TCP pipe (one unit = one chunk on a TCP subflow).
 * Pure code: every call takes `nowMs` (monotonic ms), randomness is injected, nothing here
 * opens a socket, starts a timer or reads a clock. The caller owns the loop. The simulator in
 * bench/sim/tunnel.ts is a complete, tested example of this loop.
 *
 * Sender, per unit (allocation-free: `chosen` and the unit lists are caller-owned and reused):
 *   const n = scheduler.pick(paths, bytes, nowMs, chosen)
 *     n === 0: no path takes it: all down (bestTier(paths) < 0) or, with `auto`, every queue
 *     over budget -> the VPN drops the packet (the inner flow's congestion signal), the pipe waits.
 *   bucket = flowBucketOf(innerPacket); flowSeq = sequencer.next(bucket)   (only once n > 0,
 *     so a refused unit leaves no hole for the receiver to wait on)
 *   for each chosen path p: pathSeq = p.onSend(bytes, nowMs, unitId)
 *     -> on the wire: { pathSeq, txTimeMs: nowMs } (PathStamp) and { bucket, flowSeq }
 *     unitId (>= 0) is the caller's handle on a copy it keeps for repair (the VPN: the sealed packet).
 *   Pacing (recommended; the simulator's figures use it; create the Path with { isPaced: true }):
 *     before p.onSend, unless p.rate.inStartup,
 *     releaseMs = max(lastReleaseMs[p], p.pacer.sendTimeMs(bytes, 3000, nowMs)); hold the packet
 *     until releaseMs but stamp txTimeMs = nowMs (the wait is part of the delay the model counts);
 *     p.markQueued(pathSeq) when it waits, p.markReleased(pathSeq, nowMs) when it leaves.
 *     Bursts then wait in the tunnel instead of overflowing the bottleneck's buffer.
 * Sender, per feedback about path p (it may arrive on any path):
 *   p.onFeedback(fb, nowMs, lostUnits)      lostUnits: nacked units, to send again (repair)
 * Sender, on a timer (every few ms, at least every probe interval / 2):
 *   p.update(nowMs, reinjectUnits)          state changes; units whose reply is overdue (tail
 *                                           loss) and, when p goes down, all it had not delivered
 *   if (p.isProbeDue(nowMs)) send a probe on p: pathSeq = p.onSend(probeBytes, nowMs) (no unit)
 *   Repairs are best sent by earliest arrival alone: new AutoScheduler(undefined, Infinity).
 *   A unit handed back by update (overdue, or its path down) whose repair would arrive after the
 *   receiver skipped its hole (isRepairInTime with the unit's planned arrival) is better not sent.
 * Receiver, per packet on path p:
 *   receivers[p].onPacket(stamp, bytes, nowMs, isProbe)
 *   if (receivers[p].isFeedbackDue(nowMs)) send receivers[p].writeFeedback(nowMs, fb)
 *     (a probe's answer at once and on p itself, so it proves both directions)
 *   reorder.push(bucket, flowSeq, packet, nowMs)  -> deliver(packet, bucket) in order per bucket
 * Receiver, on timers at reorder.nextDeadlineMs() and receivers[p].nextFeedbackMs():
 *   reorder.expire(nowMs); const { spreadMs, jitterMs } = delaySpreadOf(receivers, nowMs)
 *   reorder.holdTime.setSpread(spreadMs, jitterMs)
 *
 * FEC on lossy paths (optional; the simulator uses it): per path a FecEncoder on the sender,
 *   encoder.setLossRatio(p.loss.lossRatio) on the timer (k from the loss; 0 = off below 1 %), and
 *   parity = encoder.add(pathSeq, plaintextUnit, nowMs) after every send with a per-path sequence
 *   (plus encoder.flush(nowMs) on the timer); a parity is sent on the same path as a packet of its
 *   own kind (it takes a per-path sequence, not added). Per path a FecDecoder on the receiver:
 *   rebuilt = decoder.onPacket(pathSeq, plaintext, nowMs) | decoder.onParity(parity, nowMs) ->
 *   receivers[p].onRebuilt(rebuilt.seq) and deliver it as if it had arrived; after a parity with
 *   decoder.lastMissing >= 2, receivers[p].nackNow(parity.firstSeq, parity.count, nowMs);
 *   receivers[p].nackDelayMs = decoder.nackDelayMs(nowMs); and
 *   reorder.holdTime.setRepairWait(repairWaitOf(receivers, srttMs, isLossy = decoder.isActive, nowMs,
 *   nacksOnFastest)). The simulator also sends feedback that nacks something, without its echo, on
 *   its fastest path (nacksOnFastest = true): a repair over a slow lossy path then starts earlier.
 *
 * Pipe mode has no per-packet feedback: feed each subflow's Path plain samples from TCP_INFO
 * (addRttSample, addDeliveryRateSample, externalQueuedBytes = tcpi_notsent_bytes) and call
 * markHeard(nowMs) when the subflow proves alive (acked data or a pong); chunks stranded on a
 * subflow that goes down come back from update(nowMs, reinjectUnits).
 *
 * Inside a Path: feedback -> RttEstimator (srtt, rttvar, min), OneWayDelayTrend (queueing,
 * jitter; no clock sync needed), LossEstimator (per-path sequence gaps, congestion excluded),
 * RateEstimator (delivery rate, startup and probe gains, back-off when queueing exceeds the
 * model) -> Pacer (model of the bytes queued at the bottleneck, re-anchored to measured delay)
 * -> queueDelayMs()/expectedArrivalMs(), which the `auto` scheduler compares.
 *
 * Behaviour changes (API unchanged): `auto` compares paths' arrival times on their one-way delays
 * (Path.relativeBaseDelayMs: min one-way stamp, exact between paths of one peer) once every
 * candidate has feedback, instead of half the min RTT; min RTT and the one-way baseline are
 * windowed minima (WindowedMin) that no longer jump to a queued sample when the window turns;
 * QUEUE_BUDGET_MS is 40 (was 30; see constants.ts for why). The Pacer is a schedule: a rate
 * change re-prices only later sends (as a pace queue does), a path going down forgets its
 * backlog, and a paced path's model is re-anchored to measured delay while its rate is in startup
 * (callers do not pace then). Additive: pickSparse(paths, bytes, nowMs, out) and
 * Path.sparseArrivalMs for units of sparse flows that a caller sends ahead of its pace queues
 * (SPARSE_WINDOW_MS / SPARSE_FLOW_BYTES say what sparse is); WindowedMin; Pacer.backlogAt/reset;
 * Path.markQueued(seq)/markReleased(seq, nowMs) for a caller that holds sends in a pace queue (the
 * reply deadline then runs from the real release, and a nacked send that left after the packet
 * revealing the gap is late, not lost, so it is not repaired).
 */
export * from './constants.js'
export { RttEstimator } from './rtt-estimator.js'
export { OneWayDelayTrend } from './delay-trend.js'
export { LossEstimator } from './loss-estimator.js'
export { RateEstimator } from './rate-estimator.js'
export { Pacer } from './pacer.js'
export { WindowedMin } from './windowed-min.js'
export { nextPathState, isUsableState, type PathState, type PathSignals } from './path-state.js'
export { Path, type PathOptions, type PathPreference, type PathCounters } from './path.js'
export { type PathChange, describePathChange } from './path-change.js'
export { type PathStamp, type PathFeedback, createFeedback, unwrapSeq32, PathReceiver, delaySpreadOf, repairWaitOf } from './feedback.js'
export {
  type Scheduler, type SchedulerKind, type WeightedMethod, AutoScheduler, WeightedScheduler, RedundantScheduler,
  createScheduler, bestTier, isInTier, pickSparse, hasSameDelayPeer,
} from './scheduler.js'
export { flowBucketOf, FlowSequencer } from './flow-class.js'
export { HoldTimeEstimator } from './hold-time.js'
export { isRepairInTime } from './repair-deadline.js'
export { ReorderBuffer, type ReorderOptions, type ReorderStats } from './reorder-buffer.js'
export {
  FecEncoder, fecGroupSize, type ParityUnit, FEC_ON_LOSS_RATIO, FEC_OFF_LOSS_RATIO, FEC_LOSSES_PER_GROUP, FEC_MIN_GROUP, FEC_MAX_GROUP, FEC_FLUSH_MS,
} from './fec-encoder.js'
export { FecDecoder, type RebuiltUnit, FEC_MAX_NACK_DELAY_MS } from './fec-decoder.js'
