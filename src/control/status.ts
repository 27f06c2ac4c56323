/**
 * What `gst show` reports about one running instance, for both the pipe (gst-server, gst-client)
 * and the VPN (ttt). Plain data that survives JSON unchanged: unknown values are `null` (never
 * `undefined`), times are ISO 8601 wall-clock strings, durations and sizes carry their unit in the
 * name. Consumers must ignore fields they do not know; a field's meaning never changes within one
 * `version` (a change of meaning bumps STATUS_VERSION).
 *
 * Shape: one instance, its sessions (a pipe server or VPN server has one per client; a client has
 * exactly one, to its server, present even while it reconnects), each session's paths (a pipe
 * session's TCP connection(s), a VPN session's UDP 4-tuples), a stream summary (pipe only) and
 * error counters by kind, mud-style: count, last source, last time.
 */

/** Bumped when a field changes meaning or type; adding a field does not bump it. */
export const STATUS_VERSION = 1

export type InstanceMode = 'pipe-server' | 'pipe-client' | 'vpn-server' | 'vpn-client'

export interface InstanceStatus {
  /** The `--name` the control socket was created under. */
  name: string
  mode: InstanceMode
  pid: number
  /** gst version string of the running binary. */
  version: string
  /** When the instance started (ISO 8601). */
  startedAt: string
  uptimeS: number
  /** Address the instance accepts on: pipe LISTEN, or the VPN's UDP port ("host:port"). */
  listen: string
  /** pipe-server: where streams are connected (TARGET); null otherwise. */
  target: string | null
  /** Clients: the server dialled (SERVER); null on servers. */
  server: string | null
}

/**
 * handshake: keys not yet agreed; up: carrying data; connecting/backoff: a client waiting to
 * (re)dial its server; down: gone or every path down; closed: shutting down.
 */
export type SessionState = 'connecting' | 'handshake' | 'up' | 'backoff' | 'down' | 'closed'

export interface StreamCounts {
  /** Streams open now. */
  active: number
  /** Streams opened since start (including the active ones). */
  total: number
}

export interface SessionStatus {
  /** Stable for the life of the session, unique within the instance (e.g. "3"); used by later `set` commands. */
  id: string
  /** The other side: a client's source address on a server, the server's address on a client. */
  peer: string
  state: SessionState
  /** When the session entered `state` (ISO 8601); null when unknown. */
  since: string | null
  /** Latest round-trip time measured inside the session; null before the first sample. */
  rttMs: number | null
  /** Completed key rotations in this session. */
  rekeys: number
  /** Bytes on the wire (encrypted, with record headers) received and sent by this session. */
  bytesIn: number
  bytesOut: number
  /** Pipe sessions' streams; null for VPN sessions (no streams). */
  streams: StreamCounts | null
  /** This session's paths; absent when the mode has no notion of them. */
  paths?: PathStatus[]
  /** Pipe sessions: their TCP subflows, one per path (the same connections as `paths`, with TCP's view). */
  subflows?: SubflowStatus[]
  /** Pipe sessions: the scheduler spreading data over the subflows. */
  scheduler?: string
  /** Pipe sessions: sent bytes kept until acknowledged, and frames re-sent after a subflow was lost. */
  retransmitBytes?: number
  resentFrames?: number
  /**
   * Times this session hit each resource cap, absent where the mode reports none. Pipe: `streams`
   * (streams refused) and `buffer` (reading paused), each also counted under `errors.limit`;
   * VPN: `reorder` (missing packets given up on because the reorder window overflowed).
   */
  capHits?: Record<string, number>
}

/** One TCP subflow of a pipe session. */
export interface SubflowStatus {
  /** The path: the client's local address for it (or `pathN`), or on a server the subflow's source. */
  path: string
  /** The client's path index. */
  pathId: number
  local: string
  remote: string
  state: PathState
  rttMs: number | null
  /** TCP congestion window in segments; null before the first TCP_INFO sample. */
  cwnd: number | null
  /** Delivery rate in bits per second (TCP's, or cwnd/rtt when more); null before a sample. */
  rateBps: number | null
  /** Bytes on the wire (encrypted records) sent and received on this subflow. */
  bytesSent: number
  bytesReceived: number
  /** When the subflow joined (ISO 8601). */
  since: string | null
}

/** probing: not yet confirmed; degraded: up but losing or slow; backup: up, used only when no primary is. */
export type PathState = 'probing' | 'up' | 'degraded' | 'down' | 'backup'

export interface PathStatus {
  /** Unique within its session (e.g. "0", or the local address); used by later `path ... set`. */
  id: string
  /** Local and remote "host:port" of the path. */
  local: string
  remote: string
  state: PathState
  /** Smoothed RTT; null before the first sample. */
  rttMs: number | null
  /** Loss estimate in percent; null where the transport hides loss (TCP subflows). */
  lossPct: number | null
  /** Estimated (or capped) delivery rate; null when no estimate exists. */
  rateBitsPerSec: number | null
  /** Path MTU in bytes; null where it does not apply (TCP). */
  mtuBytes: number | null
  bytesIn: number
  bytesOut: number
}

export interface StreamSummary extends StreamCounts {
  /**
   * Streams refused: on a pipe client, accepted connections reset because no session was up;
   * on a pipe server, streams whose TARGET refused or timed out.
   */
  refused: number
}

/** Per-packet or per-connection failure kinds, counted, never thrown past a session. */
export const ERROR_KINDS = ['decrypt', 'replay', 'handshake', 'malformed', 'oversized', 'limit', 'connect'] as const
export type StatusErrorKind = typeof ERROR_KINDS[number]

export interface ErrorCounter {
  count: number
  /** Address of the latest occurrence ("host:port", or the target for `connect`); null if none. */
  lastSource: string | null
  /** Time of the latest occurrence (ISO 8601); null if none. */
  lastAt: string | null
}

export type ErrorCounters = Record<StatusErrorKind, ErrorCounter>

export interface StatusReport {
  version: typeof STATUS_VERSION
  /** When this report was made (ISO 8601); `gst show --watch` computes throughput from it. */
  at: string
  instance: InstanceStatus
  sessions: SessionStatus[]
  /** null for the VPN (no streams). */
  streams: StreamSummary | null
  errors: ErrorCounters
}

/** Every kind present, all zero: a base to fill in. */
export function emptyErrorCounters (): ErrorCounters {
  const out = {} as ErrorCounters
  for (const kind of ERROR_KINDS) out[kind] = { count: 0, lastSource: null, lastAt: null }
  return out
}

/** Paths of every session, each with its session id (what `show` and `--watch` iterate over). */
export function allPaths (report: StatusReport): Array<{ sessionId: string, path: PathStatus }> {
  const out: Array<{ sessionId: string, path: PathStatus }> = []
  for (const s of report.sessions) for (const path of s.paths ?? []) out.push({ sessionId: s.id, path })
  return out
}

/**
 * Checks that an object received over the control socket looks like a StatusReport this version
 * can render; throws a message naming the first problem.
 */
export function assertStatusReport (value: unknown): asserts value is StatusReport {
  const v = value as Partial<StatusReport> | null
  if (v === null || typeof v !== 'object') throw new Error('status is not an object')
  if (v.version !== STATUS_VERSION) throw new Error(`status version ${String(v.version)} is not ${STATUS_VERSION} (gst show and the instance are different versions)`)
  if (typeof v.at !== 'string') throw new Error('status has no time (at)')
  if (v.instance === undefined || typeof v.instance !== 'object' || typeof v.instance.name !== 'string') throw new Error('status has no instance')
  if (!Array.isArray(v.sessions)) throw new Error('status has no sessions list')
  if (v.errors === undefined || typeof v.errors !== 'object') throw new Error('status has no error counters')
}
