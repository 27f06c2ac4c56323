/**
 * gst-server: accepts sessions from any number of clients, each its own encrypted session, and
 * connects every stream they open to the one target.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import sodium from 'sodium-native'
import { acceptHandshake, type HandshakeResponse } from '../crypto/handshake.js'
import { HandshakeReplayGuard } from '../crypto/handshake-guard.js'
import { RateLimiter } from '../crypto/rate-limiter.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import type { ErrorKind } from '../errors.js'
import { SecureChannel, type HelloDecision } from './channel.js'
import { Multiplexer, muxLimitsOf } from './mux.js'
import { SESSION_PROLOGUE, SESSION_ID_BYTES, decodeHello, encodeWelcome, type JoinRequest } from './hello.js'
import { Subflow } from './subflow.js'
import { JoinReplayGuard, isValidJoinProof } from './join.js'
import type { SchedulerKind } from '../multipath/index.js'
import { resolveTunables, type PipeTunables } from './config.js'
import { formatHostPort, listenOn, type HostPort } from './address.js'
import { CloseReason } from './frame.js'
import { SOCKET_WRITE_HIGH_WATER_BYTES } from './record.js'
import { snapshotSession, type PipeSessionSnapshot } from './session-snapshot.js'

export interface PipeServerOptions {
  listen: HostPort
  target: HostPort
  /** Pre-shared keys; a client may use any of them. */
  keys: Uint8Array[]
  tunables?: Partial<PipeTunables>
  /** Connections still in the handshake, at once (default 1024); beyond it the oldest is closed. */
  maxPendingHandshakes?: number
  /** How the server spreads a session's data over its subflows (default auto). */
  scheduler?: SchedulerKind
  log?: Logger
  clock?: Clock
}

/** Our choice: subflows one session may have at once (a client has at most 256 paths). */
const MAX_SUBFLOWS_PER_SESSION = 16
/** Our choice: how long a shutting-down server lets its CLOSE frames reach the clients. */
const SHUTDOWN_FLUSH_MS = 500

export interface PipeServerStats {
  sessionsActive: number
  sessionsTotal: number
  streamsActive: number
  streamsTotal: number
  handshakes: number
  rekeys: number
  /** Connections that have not finished the handshake yet. */
  pendingHandshakes?: number
  /** Failures by kind, with the last source and time (monotonic ms). */
  errors: Partial<Record<ErrorKind | 'connect', { count: number, lastSource: string, lastAtMs: number }>>
}

export class PipeServer {
  private readonly server: net.Server
  private readonly tunables: PipeTunables
  private readonly log: Logger
  private readonly clock: Clock
  private readonly guard = new HandshakeReplayGuard()
  private readonly limiter: RateLimiter
  private readonly logLimiter = new LogLimiter()
  private readonly sessions = new Set<Multiplexer>()
  /** The scheduler of every session's server-to-client direction (`gst set scheduler=`). */
  private scheduler: SchedulerKind
  /** Per open session, for `show`: its number and when it came up. */
  private readonly sessionInfo = new Map<Multiplexer, { id: number, openedAtMs: number, peer: string, sessionIdHex?: string }>()
  /** Open sessions by session id, for joins. */
  private readonly bySessionId = new Map<string, { mux: Multiplexer, guard: JoinReplayGuard, firstTimestamp: Buffer }>()
  private readonly pendingIds = new Map<Multiplexer, string>()
  private readonly connections = new Set<net.Socket>()
  /** Connections still in the handshake, oldest first, each with its deadline timer. */
  private readonly pending = new Map<net.Socket, NodeJS.Timeout>()
  private closedRekeys = 0
  private closedStreams = 0
  readonly stats: PipeServerStats = { sessionsActive: 0, sessionsTotal: 0, streamsActive: 0, streamsTotal: 0, handshakes: 0, rekeys: 0, pendingHandshakes: 0, errors: {} }

  /** Runtime `scheduler=` (`gst set`): every session chooses with it from its next unit on. */
  setScheduler (kind: SchedulerKind): void {
    this.scheduler = kind
    for (const mux of this.sessions) mux.setScheduler(kind)
  }

  constructor (private readonly options: PipeServerOptions) {
    if (options.keys.length === 0) throw new Error('a server needs at least one key')
    this.tunables = resolveTunables(options.tunables)
    this.log = options.log ?? silentLogger
    this.clock = options.clock ?? monotonicClock
    this.scheduler = options.scheduler ?? 'auto'
    this.limiter = new RateLimiter({ perSecond: this.tunables.handshakesPerSecond, burst: this.tunables.handshakeBurst })
    this.server = net.createServer({ noDelay: true, highWaterMark: SOCKET_WRITE_HIGH_WATER_BYTES }, (socket) => this.onConnection(socket))
  }

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  async start (): Promise<AddressInfo> {
    const address = await listenOn(this.server, this.options.listen)
    this.log.info(`server listening on ${formatHostPort({ host: address.address, port: address.port })}, target ${formatHostPort(this.options.target)}`)
    return address
  }

  /** Stops accepting, closes every session, resolves when all connections are gone. */
  async close (): Promise<void> {
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    const subflowSockets = new Set([...this.sessions].flatMap((mux) => mux.subflows.map((sf) => sf.channel.socket)))
    for (const mux of [...this.sessions]) mux.close(CloseReason.Shutdown, 'server shutting down')
    // Sessions' sockets were ended after a CLOSE: give it a moment to reach the clients (a reset
    // could lose it, and a client that misses it waits its path timeout for a rejoin).
    for (const socket of this.connections) if (!subflowSockets.has(socket)) socket.destroy()
    const pending = [...subflowSockets].filter((s) => !s.destroyed)
    if (pending.length > 0) {
      const timer = setTimeout(() => { for (const s of pending) s.destroy() }, SHUTDOWN_FLUSH_MS)
      await Promise.all(pending.map((s) => new Promise<void>((resolve) => { if (s.destroyed) resolve(); else s.once('close', () => resolve()) })))
      clearTimeout(timer)
    }
    await closed
  }

  snapshot (): PipeServerStats {
    let streams = 0
    let rekeys = this.closedRekeys
    for (const mux of this.sessions) { streams += mux.streams.size; rekeys += mux.rotations }
    return { ...this.stats, pendingHandshakes: this.pending.size, sessionsActive: this.sessions.size, streamsActive: streams, rekeys, streamsTotal: this.closedStreams + [...this.sessions].reduce((n, m) => n + m.streamsOpened, 0) }
  }

  /** Every open session (for `show`). */
  sessionSnapshots (): PipeSessionSnapshot[] {
    return [...this.sessionInfo].map(([mux, info]) => snapshotSession(info.id, mux, info.openedAtMs, info.peer))
  }

  private countError (kind: ErrorKind | 'connect', source: string): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = source
    entry.lastAtMs = this.clock.now()
  }

  private onConnection (socket: net.Socket): void {
    const source = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    const sourceHost = socket.remoteAddress ?? '?'
    this.connections.add(socket)
    socket.once('close', () => { this.connections.delete(socket); this.settle(socket) })
    this.admitPending(socket, source)
    let opened = false
    /** Set by decide(): the session this connection creates or joins. */
    const pending: { mux?: Multiplexer, created?: boolean, pathId?: number } = {}
    const subflow = new Subflow({ pathId: 0, label: source, preference: 'primary', rateBitsPerSec: 0, weight: 0 }, {
      onOpen: (sf, _peerPayload, joinKey) => {
        opened = true
        this.settle(socket)
        this.stats.handshakes++
        const mux = pending.mux!
        sf.session = mux
        sf.spec.pathId = pending.pathId ?? 0
        if (pending.created) {
          mux.joinKey = joinKey
          mux.label = `session ${source}`
          this.sessions.add(mux)
          this.stats.sessionsTotal++
          const sessionIdHex = this.pendingIds.get(mux)
          this.pendingIds.delete(mux)
          this.sessionInfo.set(mux, { id: this.stats.sessionsTotal, openedAtMs: this.clock.now(), peer: source, ...(sessionIdHex ? { sessionIdHex } : {}) })
          this.log.info(`session ${source} up`)
        } else {
          sodium.sodium_memzero(joinKey)
          this.log.info(`${mux.label}: subflow ${source} joined (path ${sf.spec.pathId}, ${mux.subflows.length + 1} subflows)`)
        }
        mux.addSubflow(sf)
      },
      onFrame: (sf, type, streamId, payload) => sf.session!.onFrame(sf, type, streamId, payload),
      onDrain: (sf) => sf.session?.onDrain(),
      onClose: (sf, error) => {
        if (!opened) {
          const kind = (error as { kind?: ErrorKind } | undefined)?.kind ?? 'handshake'
          this.countError(kind, source)
          const suppressed = this.admitHandshakeLog(sourceHost)
          if (suppressed >= 0) this.log.warn(`handshake from ${source} failed: ${error?.message ?? 'connection closed'}${suppressed ? ` (${suppressed} more from ${sourceHost} not shown)` : ''}`)
          return
        }
        const kind = (error as { kind?: ErrorKind } | undefined)?.kind
        if (kind !== undefined) this.countError(kind, source)
        const mux = sf.session!
        if (!mux.isEnded && !sf.channel.peerClosed && mux.subflows.length > 1) {
          this.log.warn(`${mux.label}: subflow ${source} ${error === undefined ? 'closed' : `dropped: ${error.message}`}`)
        } else if (!mux.isEnded && !sf.channel.peerClosed) {
          this.log.warn(`session ${source} ${error === undefined ? 'lost its last subflow' : `dropped: ${error.message}`}; waiting ${this.tunables.pathTimeoutMs / 1000} s for the client to rejoin`)
        }
        mux.removeSubflow(sf, error)
      },
    })
    const channel = new SecureChannel(
      socket,
      { kind: 'responder', decide: (message1) => this.decide(message1, sourceHost, pending) },
      subflow,
      this.tunables,
      this.clock,
      this.log,
      `session ${source}`,
    )
    subflow.attach(channel)
  }

  /**
   * Bounds connections that have not finished the handshake: each is closed soon after the
   * handshake timeout, and when there are too many the oldest goes first (a legitimate client sends its
   * HELLO right after connecting, so a flood of idle connections cannot keep it out).
   */
  private admitPending (socket: net.Socket, source: string): void {
    // The channel closes a silent connection at the timeout (and says so); this deadline, a
    // second later, also ends one that trickles bytes to stay alive.
    const timer = setTimeout(() => { if (this.pending.has(socket)) socket.destroy() }, this.tunables.handshakeTimeoutMs + 1000)
    timer.unref()
    this.pending.set(socket, timer)
    const max = this.options.maxPendingHandshakes ?? 1024
    if (this.pending.size <= max) return
    const oldest = this.pending.keys().next().value!
    this.settle(oldest)
    oldest.destroy()
    this.countError('limit', source)
    const suppressed = this.logLimiter.admit('cap pending', this.clock.now())
    if (suppressed >= 0) this.log.warn(`${max} connections are in the handshake: the oldest closed (from ${source}${suppressed ? `; ${suppressed} more since the last report` : ''})`)
  }

  private handshakeLines = { sinceMs: -Infinity, count: 0 }

  /**
   * Failed handshakes log once per source per 10 s, and at most 10 sources' lines per 10 s: a
   * flood from thousands of addresses then costs one line per interval, with the count held back.
   */
  private admitHandshakeLog (sourceHost: string): number {
    const now = this.clock.now()
    if (now - this.handshakeLines.sinceMs >= 10_000) this.handshakeLines = { sinceMs: now, count: 0 }
    const suppressed = this.logLimiter.admit(this.handshakeLines.count >= 10 ? 'hs' : `hs ${sourceHost}`, now)
    if (suppressed >= 0) this.handshakeLines.count++
    return suppressed
  }

  private settle (socket: net.Socket): void {
    const timer = this.pending.get(socket)
    if (timer === undefined) return
    clearTimeout(timer)
    this.pending.delete(socket)
  }

  private newSession (): Multiplexer {
    const mux: Multiplexer = new Multiplexer({
      ...muxLimitsOf(this.tunables),
      scheduler: this.scheduler,
      log: this.log,
      clock: this.clock,
      connectTarget: (streamId) => this.connectTarget(mux, streamId),
    }, {
      onCapHit: () => this.countError('limit', this.sessionInfo.get(mux)?.peer ?? mux.label),
      onClose: (_mux, error) => {
        const info = this.sessionInfo.get(mux)
        this.sessions.delete(mux)
        this.sessionInfo.delete(mux)
        this.bySessionId.delete(info?.sessionIdHex ?? '')
        this.closedRekeys += mux.rotations
        this.closedStreams += mux.streamsOpened
        const kind = (error as { kind?: ErrorKind } | undefined)?.kind
        if (kind !== undefined && info !== undefined) this.countError(kind, info.peer)
        const what = `session ${info?.peer ?? mux.label}`
        if (error === undefined) this.log.info(`${what} closed`)
        else this.log.warn(`${what} dropped: ${error.message}`)
      },
    })
    return mux
  }

  private decide (message1: Buffer, sourceHost: string, pending: { mux?: Multiplexer, created?: boolean, pathId?: number }): HelloDecision {
    if (!this.limiter.allow(sourceHost, this.clock.now())) return { accept: false, kind: 'limit', reason: 'too many handshakes from this address' }
    const response = acceptHandshake(this.options.keys, SESSION_PROLOGUE, message1)
    if (response === null) return { accept: false, kind: 'handshake', reason: 'wrong key, or not a gst client' }
    let hello
    try {
      hello = decodeHello(response.payload)
    } catch (err) {
      return { accept: false, kind: 'handshake', reason: (err as Error).message }
    }
    if (hello.join !== undefined) return this.decideJoin(message1, hello.join, hello.timestamp, response, pending)
    if (this.sessions.size >= this.tunables.maxSessions) return { accept: false, kind: 'limit', reason: `session limit of ${this.tunables.maxSessions} reached` }
    if (!this.guard.accept(hello.clientId, hello.timestamp)) return { accept: false, kind: 'replay', reason: 'replayed handshake' }
    const sessionId = Buffer.alloc(SESSION_ID_BYTES)
    sodium.randombytes_buf(sessionId)
    const { message2, secrets } = response.reply(encodeWelcome({ sessionId, streamWindowBytes: this.tunables.streamWindowBytes }))
    const mux = this.newSession()
    mux.setPeerWindow(hello.streamWindowBytes)
    const sessionIdHex = sessionId.toString('hex')
    this.bySessionId.set(sessionIdHex, { mux, guard: new JoinReplayGuard(), firstTimestamp: Buffer.from(hello.timestamp) })
    // Info is completed on open; the id is needed to forget the session when it ends.
    this.pendingIds.set(mux, sessionIdHex)
    pending.mux = mux
    pending.created = true
    return { accept: true, secrets, psk: this.options.keys[response.keyIndex]!, message2, peerPayload: response.payload }
  }

  /** A further subflow for an existing session: the proof must match this very handshake, once. */
  private decideJoin (message1: Buffer, join: JoinRequest, timestamp: Buffer, response: HandshakeResponse,
    pending: { mux?: Multiplexer, created?: boolean, pathId?: number }): HelloDecision {
    const entry = this.bySessionId.get(join.sessionId.toString('hex'))
    if (entry === undefined || entry.mux.isEnded || entry.mux.joinKey === undefined) return { accept: false, kind: 'handshake', reason: 'join for an unknown session' }
    const ephemeral = message1.subarray(0, 32)
    if (!isValidJoinProof(entry.mux.joinKey, join.sessionId, join.pathId, timestamp, ephemeral, join.proof)) {
      return { accept: false, kind: 'handshake', reason: `join of ${entry.mux.label} with a bad proof` }
    }
    if (!entry.guard.accept(join.pathId, timestamp, entry.firstTimestamp)) return { accept: false, kind: 'replay', reason: `replayed join of ${entry.mux.label}` }
    if (entry.mux.subflows.length >= MAX_SUBFLOWS_PER_SESSION) return { accept: false, kind: 'limit', reason: `subflow limit of ${MAX_SUBFLOWS_PER_SESSION} per session reached` }
    const { message2, secrets } = response.reply(encodeWelcome({ sessionId: join.sessionId, streamWindowBytes: this.tunables.streamWindowBytes }))
    pending.mux = entry.mux
    pending.created = false
    pending.pathId = join.pathId
    return { accept: true, secrets, psk: this.options.keys[response.keyIndex]!, message2, peerPayload: response.payload }
  }

  private connectTarget (mux: Multiplexer, streamId: number): { socket: net.Socket, description: string } {
    const target = this.options.target
    const description = formatHostPort(target)
    const socket = net.connect({ host: target.host, port: target.port, allowHalfOpen: true, noDelay: true })
    socket.setTimeout(this.tunables.connectTimeoutMs, () => {
      if (socket.connecting) socket.destroy(new Error(`connect to ${description} timed out after ${this.tunables.connectTimeoutMs} ms`))
    })
    let connected = false
    socket.once('connect', () => { connected = true; socket.setTimeout(0) })
    socket.once('error', (err) => {
      if (connected) return
      this.countError('connect', description)
      const suppressed = this.logLimiter.admit(`connect ${description} ${(err as NodeJS.ErrnoException).code ?? err.message}`, this.clock.now())
      if (suppressed >= 0) this.log.warn(`${mux.label}: stream ${streamId} to ${description} failed: ${err.message}${suppressed ? ` (${suppressed} more not shown)` : ''}`)
    })
    return { socket, description }
  }
}
