/**
 * The adapter from the VPN's snapshots (src/vpn) to the StatusReport `gst show` renders
 * (src/control). Pure: times come in as arguments.
 */
import { emptyErrorCounters, STATUS_VERSION, type ErrorCounters, type StatusErrorKind, type InstanceStatus, type SessionStatus, type StatusReport } from '../src/control/status.js'
import type { VpnPeerSnapshot } from '../src/vpn/snapshot.js'

export interface VpnReportContext {
  instance: Omit<InstanceStatus, 'uptimeS' | 'startedAt'>
  startedAtMs: number
  nowMs: number
  nowMonotonicMs: number
}

/** The VPN counts finer kinds than `show` has columns for; these fold into the nearest one. */
const KIND_OF: Record<string, StatusErrorKind> = {
  decrypt: 'decrypt', epoch: 'decrypt', replay: 'replay', handshake: 'handshake', limit: 'limit', cookie: 'limit',
  malformed: 'malformed', short: 'malformed', 'unknown-session': 'malformed', stranger: 'malformed', 'not-allowed': 'malformed',
}

function wallTime (ctx: VpnReportContext, monotonicMs: number): string {
  return new Date(ctx.nowMs - (ctx.nowMonotonicMs - monotonicMs)).toISOString()
}

function session (ctx: VpnReportContext, s: VpnPeerSnapshot): SessionStatus {
  const rtts = s.paths.map((p) => p.rttMs).filter((r): r is number => r !== null)
  return {
    id: s.id,
    peer: s.peer,
    state: s.state === 'up' ? (s.paths.some((p) => p.state === 'up' || p.state === 'degraded' || p.state === 'backup') ? 'up' : 'down') : 'handshake',
    since: s.sinceMs > 0 ? wallTime(ctx, s.sinceMs) : null,
    rttMs: rtts.length ? Math.min(...rtts) : null,
    rekeys: s.rekeys,
    bytesIn: s.bytesIn,
    bytesOut: s.bytesOut,
    streams: null,
    capHits: { reorder: s.reorder.overflowSkipped },
    paths: s.paths.map((p) => ({
      id: String(p.id),
      local: p.local,
      remote: p.remote,
      state: p.state,
      rttMs: p.rttMs,
      lossPct: p.lossPct,
      rateBitsPerSec: p.rateBitsPerSec,
      mtuBytes: p.mtuBytes,
      bytesIn: p.bytesIn,
      bytesOut: p.bytesOut,
    })),
  }
}

export function vpnReport (ctx: VpnReportContext, peers: VpnPeerSnapshot[], errorCounts: Record<string, { count: number, lastSource: string, lastAtMs: number }>): StatusReport {
  const errors: ErrorCounters = emptyErrorCounters()
  for (const [kind, entry] of Object.entries(errorCounts)) {
    const into = KIND_OF[kind]
    if (into === undefined) continue
    const target = errors[into]
    target.count += entry.count
    const at = wallTime(ctx, entry.lastAtMs)
    if (target.lastAt === null || at > target.lastAt) { target.lastAt = at; target.lastSource = entry.lastSource }
  }
  return {
    version: STATUS_VERSION,
    at: new Date(ctx.nowMs).toISOString(),
    instance: { ...ctx.instance, startedAt: new Date(ctx.startedAtMs).toISOString(), uptimeS: Math.max(0, (ctx.nowMs - ctx.startedAtMs) / 1000) },
    sessions: peers.map((p) => session(ctx, p)),
    streams: null,
    errors,
  }
}
