/**
 * The adapter from the pipe's own statistics (src/pipe) to the StatusReport `gst show` renders
 * (src/control): the only place that knows both. Pure: times come in as arguments.
 */
import { emptyErrorCounters, STATUS_VERSION, type ErrorCounters, type InstanceStatus, type SessionStatus, type StatusReport } from '../src/control/status.js'
import type { PipeServerStats } from '../src/pipe/server.js'
import type { PipeClientStats } from '../src/pipe/client.js'
import type { PipeSessionSnapshot } from '../src/pipe/session-snapshot.js'

/** What the report needs besides the pipe's statistics. */
export interface ReportContext {
  instance: Omit<InstanceStatus, 'uptimeS' | 'startedAt'>
  /** Wall-clock ms at start and now, and the monotonic clock now (to turn monotonic times into wall times). */
  startedAtMs: number
  nowMs: number
  nowMonotonicMs: number
}

function wallTime (ctx: ReportContext, monotonicMs: number): string {
  return new Date(ctx.nowMs - (ctx.nowMonotonicMs - monotonicMs)).toISOString()
}

function base (ctx: ReportContext): Pick<StatusReport, 'version' | 'at' | 'instance'> {
  return {
    version: STATUS_VERSION,
    at: new Date(ctx.nowMs).toISOString(),
    instance: { ...ctx.instance, startedAt: new Date(ctx.startedAtMs).toISOString(), uptimeS: Math.max(0, (ctx.nowMs - ctx.startedAtMs) / 1000) },
  }
}

function errors (ctx: ReportContext, counts: PipeServerStats['errors']): ErrorCounters {
  const out = emptyErrorCounters()
  for (const [kind, entry] of Object.entries(counts)) {
    if (entry === undefined || !(kind in out)) continue
    out[kind as keyof ErrorCounters] = { count: entry.count, lastSource: entry.lastSource, lastAt: wallTime(ctx, entry.lastAtMs) }
  }
  return out
}

/**
 * A pipe session runs one TCP subflow per path; each is a path row (TCP keeps loss and MTU to
 * itself) and a subflow row with TCP's own view (cwnd, delivery rate).
 */
function upSession (ctx: ReportContext, s: PipeSessionSnapshot): SessionStatus {
  return {
    id: String(s.id),
    peer: s.peer,
    state: s.subflows.length > 0 ? 'up' : 'connecting',
    since: wallTime(ctx, s.openedAtMs),
    rttMs: s.rttMs ?? null,
    rekeys: s.rekeys,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    streams: { active: s.streamsActive, total: s.streamsTotal },
    paths: s.subflows.map((f) => ({
      id: String(f.pathId), local: f.local, remote: f.remote, state: f.state, rttMs: f.rttMs ?? null,
      lossPct: null, rateBitsPerSec: f.rateBitsPerSec ?? null, mtuBytes: null, bytesIn: f.bytesIn, bytesOut: f.bytesOut,
    })),
    subflows: s.subflows.map((f) => ({
      path: f.path, pathId: f.pathId, local: f.local, remote: f.remote, state: f.state, rttMs: f.rttMs ?? null,
      cwnd: f.cwnd > 0 ? f.cwnd : null, rateBps: f.rateBitsPerSec ?? null, bytesSent: f.bytesOut, bytesReceived: f.bytesIn,
      since: wallTime(ctx, f.openedAtMs),
    })),
    scheduler: s.scheduler,
    retransmitBytes: s.retransmitBytes,
    resentFrames: s.resentUnits,
    capHits: { ...s.capHits },
  }
}

export function pipeServerReport (ctx: ReportContext, stats: PipeServerStats, sessions: PipeSessionSnapshot[]): StatusReport {
  return {
    ...base(ctx),
    sessions: sessions.map((s) => upSession(ctx, s)),
    streams: { active: stats.streamsActive, total: stats.streamsTotal, refused: stats.errors.connect?.count ?? 0 },
    errors: errors(ctx, stats.errors),
  }
}

/** A client always shows its one session to the server, also while it (re)connects. */
export function pipeClientReport (ctx: ReportContext, stats: PipeClientStats, session: PipeSessionSnapshot | undefined, stateSinceMs: number): StatusReport {
  const server = ctx.instance.server ?? '?'
  const sessions: SessionStatus[] = session !== undefined
    ? [upSession(ctx, session)]
    : [{
        id: '-', peer: server, state: stats.state === 'up' ? 'handshake' : stats.state, since: wallTime(ctx, stateSinceMs),
        rttMs: null, rekeys: 0, bytesIn: 0, bytesOut: 0, streams: { active: 0, total: 0 }, paths: [],
      }]
  return {
    ...base(ctx),
    sessions,
    streams: { active: stats.streamsActive, total: stats.streamsTotal, refused: stats.streamsRefused },
    errors: errors(ctx, stats.errors),
  }
}
