/**
 * Numbers the multipath core runs on. "From a spec" values are not ours to tune; "our choice"
 * values are, and each says why it is what it is. Durations in ms, rates in bits per second.
 */

// ---- From a specification ----

/** RFC 6298 section 2: SRTT gain (1/8). */
export const RTT_ALPHA = 1 / 8
/** RFC 6298 section 2: RTTVAR gain (1/4). */
export const RTT_BETA = 1 / 4
/** RFC 6298 section 2: RTO = SRTT + K * RTTVAR. */
export const RTT_K = 4

// ---- Our choice ----

/** An idle path is probed at least this often, so a dead idle path is noticed well under a second. */
export const DEFAULT_PROBE_INTERVAL_MS = 100
/**
 * A path whose replies are overdue by more than max(3 x (4 x rttvar + max ack delay), this floor)
 * is declared down. The floor keeps a very stable path (rttvar ~ 0) from flapping on one late reply.
 */
export const DEFAULT_DOWN_FLOOR_MS = 60
/** Receivers send path feedback at least this often while data arrives (it bounds the ack delay). */
export const DEFAULT_FEEDBACK_INTERVAL_MS = 10
/** ...or after this many data packets, whichever comes first (one feedback per ~20 kB at 1.4 kB). */
export const FEEDBACK_EVERY_PACKETS = 16
/**
 * A path counts as silent only once this many consecutive sends are unanswered, and an idle path
 * is probed with this many probes back to back: one random loss is never a failure (on a 5 %-loss
 * path a false alarm needs both probes of a pair lost: 1 in 400).
 */
export const UNANSWERED_FOR_SILENCE = 2
/**
 * Silence reports (PathReceiver.silenceReportDue): a receiver that has heard nothing on a busy
 * path for max(this floor, SILENCE_REPORT_GAPS x its mean gap between arrivals) says so over
 * another path, at most SILENCE_REPORTS times per silence, each a wait as long again later. The
 * path's own replies take its round trip plus a timeout to go missing (l2 in the lab: down
 * 190-210 ms after a cut under load); the report takes the silence plus the other path's one way.
 * The floor is well above a busy path's gaps (about 1 ms at 10 Mbit/s) and a tick (5 ms).
 */
export const SILENCE_REPORT_FLOOR_MS = 20
export const SILENCE_REPORT_GAPS = 8
/** A path whose arrivals are further apart than this allows (an idle, probed path) sends no reports: its own timeout is as quick. */
export const SILENCE_REPORT_CEILING_MS = 100
export const SILENCE_REPORTS = 3
/**
 * A path that came back by itself from a pause of P ms (its packets' delay jumped by P) is
 * reported silent only after this times P: its next pause of that length is not a failure.
 */
export const SILENCE_REPORT_PAUSES = 1.5
/**
 * The sender takes a silence report as the path's failure when at least UNANSWERED_FOR_SILENCE
 * (more on a lossy path: SILENCE_FALSE_ALARM) sends left within (the silence - this margin, or twice the path's timeout variation if more)
 * after the last one that arrived: each would have arrived by now on a live path.
 */
export const SILENCE_MARGIN_MS = 10
/** On a lossy path, more missing sends are needed (Path's silenceEvidence): random loss explains them at most this often. */
export const SILENCE_FALSE_ALARM = 1e-4
/** ...but never more than this many (a path losing a third of its packets is as good as down). */
export const SILENCE_EVIDENCE_MAX = 8
/** Answers a probing/down path must give before it is trusted with data again. */
export const UP_AFTER_REPLIES = 2
/**
 * Loss ratio above which an up path is degraded, and below which a degraded one is up again.
 * High on purpose: a full bottleneck queue drops packets too, and that is congestion, not a
 * broken path; moderate random loss is priced by `auto` (repair cost) instead.
 */
export const DEGRADED_LOSS_RATIO = 0.5
export const UNDEGRADED_LOSS_RATIO = 0.3
/** Loss EWMA gain per packet: about the last 128 packets count. */
export const LOSS_GAIN_PER_PACKET = 1 / 128
/** Min RTT and min one-way delay are the minimum over this window (a route change is forgotten after it). */
export const MIN_FILTER_WINDOW_MS = 10_000
/** Delivery rate is the max of samples over this window (BBR uses 10 round trips; we use time, paths differ). */
export const RATE_WINDOW_MS = 2_000
/** A delivery rate sample spans at least this long, so one compressed burst cannot inflate it. */
export const RATE_SAMPLE_MIN_MS = 20
/** Rate assumed for a path before any delivery feedback: low, startup doubles it each round. */
export const INITIAL_RATE_BITS_PER_SEC = 2_000_000
/** Startup scheduling gain (BBR's 2/ln2 rounded down): the estimate doubles each round while it keeps growing. */
export const STARTUP_GAIN = 2
/** Startup ends after this many rounds without 25 % growth (BBR's full-pipe test). */
export const STARTUP_FLAT_ROUNDS = 3
/** Periodic upward probe and drain gains; a probe cycle is eight rounds, like BBR's ProbeBW. */
export const PROBE_GAINS: readonly number[] = [1.25, 0.9, 1, 1, 1, 1, 1, 1]
/** One back-off lowers the rate estimate by at most this factor (BBR's drain-like 0.85). */
export const BACK_OFF_FACTOR = 0.85
/** A round lasts one min RTT but at least this long (keeps short paths from cycling every few ms). */
export const MIN_ROUND_MS = 50
/** Queueing delay above our own queue model by more than this (plus a quarter of the model) means we over-estimate the rate. */
export const QUEUE_EXCESS_MS = 10
/**
 * Standing queue the `auto` scheduler allows on a path (the least queue seen over the last
 * STANDING_WINDOW_MS, as CoDel judges a queue by its minimum so bursts pass); past it the path is
 * skipped, and with every path past it the unit is refused (the VPN drops it, the inner TCP backs
 * off, the bottleneck queue stays short). Why 40: a loss-based inner flow (CUBIC cuts its window
 * to 0.7x) keeps the bond busy only if the queue it can build is >= 0.43x the bond's
 * bandwidth-delay product, and over two paths with a 50 ms skew that product counts the slow
 * path's delay (the reorder buffer makes every packet wait for it): 30 Mbit/s x ~70 ms = 175
 * packets. 30 ms per path (50 + 25 packets) was just short: the simulator's trace
 * (`npm run sim -- --trace aggregate`) showed l2 idle after every window cut and the bond at 93 %;
 * 40 ms (67 + 33) keeps it at 98 %. The queue is in our pacer, not at the bottleneck.
 */
export const QUEUE_BUDGET_MS = 40
/**
 * Bottleneck queue `auto` allows on a path (its modelled queue, outside rate startup) when the
 * caller holds the rest in its own queue (the VPN's wait queue; `new AutoScheduler(..., this)`).
 * A sparse flow (a ping, DNS, the acks of a download) skips our queue but not the bottleneck's,
 * so this is about what it adds to the path's delay: the target is ping + 10 ms over the fastest
 * link while a bulk flow saturates the bond. Long enough to keep the link busy between two
 * drains of our queue (the model is corrected from measured one-way delay, which on a loaded
 * host is off by a few ms), short next to 10 ms. Callers that drop what `auto` refuses (the
 * simulator's tunnel) keep the 40 ms QUEUE_BUDGET_MS instead: there the inner flow's buffer is
 * the bottleneck's.
 */
export const BOTTLENECK_BUDGET_MS = 5
/**
 * The same for the paths of longer propagation delay than the least (no sparse flow goes there
 * while the shortest path is usable, so their queue delays nobody's ping): a 10 Mbit/s link
 * drains 5 ms in four packets, less than a busy host's late wake-up, and ran dry between drains.
 */
export const SLOWER_PATH_BUDGET_MS = 20
/** Window of the standing-queue minimum (CoDel's interval). */
export const STANDING_WINDOW_MS = 100
/** A burst may queue up to this much on a path however short its standing queue. */
export const BURST_BUDGET_MS = 150
/**
 * While the earliest-arrival path queues less than this, `auto` uses it alone (lowest latency, no
 * reordering); beyond it the flow wants more than that path gives, and `auto` fills the path with
 * the shortest queue instead, leaving the delay skew to the reorder buffer. Chosen with the
 * simulator (0, 5, 10, 20, 25, 30, 35 ms and pure earliest-arrival tried).
 */
export const FILL_THRESHOLD_MS = 30
/**
 * A flow class (bucket) that handed over at most SPARSE_FLOW_BYTES in the last SPARSE_WINDOW_MS
 * and has nothing waiting is sparse: its units skip the bulk queued in our pacers (fq_codel's
 * sparse-flow priority). 12 kB per 100 ms is about 1 Mbit/s: pings, keystrokes, DNS and the acks
 * of a download are sparse; a bulk flow stops being sparse within its first few packets.
 */
export const SPARSE_WINDOW_MS = 100
export const SPARSE_FLOW_BYTES = 12_000
/** Share of the queue delay at which a path was seen overflowing that we allow ourselves. */
export const OVERFLOW_QUEUE_SHARE = 0.95
/**
 * Bytes a pacing caller lets go ahead of its pace schedule (two full packets: a late timer can
 * catch up one). The path's model needs it to know when a paced unit really leaves (see Pacer).
 */
export const PACING_BURST_BYTES = 3000
/** Per-path send records kept for RTT, loss and repair; must exceed packets in flight on one path. */
export const SEND_RING_SIZE = 1 << 14
/** Most lost sequence numbers one feedback reports (the rest are counted as loss, not repaired). */
export const MAX_NACKS_PER_FEEDBACK = 32
/** Each nack rides in this many consecutive feedbacks, so one lost feedback does not lose the repair. */
export const NACK_REPEATS = 3
/** Reorder hold time limits: the cap keeps a failing path from stalling a flow longer than failover takes. */
export const MIN_HOLD_MS = 2
export const MAX_HOLD_MS = 250
/** Hold time used before any measurement (covers the 50 ms path skew we are built for). */
export const INITIAL_HOLD_MS = 80
/** Packets a reorder bucket can hold behind a hole; beyond it the hole is skipped early. */
export const REORDER_WINDOW_PACKETS = 4096
/** Flow-class buckets: many more than concurrent bulk flows, few enough to keep memory small. */
export const DEFAULT_FLOW_BUCKETS = 64
