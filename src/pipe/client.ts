/**
 * gst-client: keeps one encrypted session to the server and carries every connection accepted on
 * LISTEN as a stream of it. The session runs one subflow (TCP connection) per path: the first
 * creates the session, the others join it; a lost path is re-dialled with jittered backoff and
 * rejoins, its unacknowledged data already re-sent on the others. With no path up for the path
 * timeout (or when the server no longer knows the session), a new session is made. Connections
 * accepted while no session exists are refused at once (reset), except during a handshake in
 * progress, when they wait for it.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { MonotonicTimestamps } from '../crypto/tai64n.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import { SecureChannel } from './channel.js'
import { Multiplexer, muxLimitsOf } from './mux.js'
import { CLIENT_ID_BYTES, HelloPurpose, SESSION_PROLOGUE, decodeWelcome, encodeHello } from './hello.js'
import sodium from 'sodium-native'
import { Subflow } from './subflow.js'
import { joinProof } from './join.js'
import { setNotsentLowat } from '../native/socket-options.js'
import { describePathChange, type PathChange, type SchedulerKind } from '../multipath/index.js'
import { resolveTunables, type PipeTunables } from './config.js'
import { formatHostPort, listenOn, type HostPort } from './address.js'
import { CloseReason } from './frame.js'
import { SOCKET_WRITE_HIGH_WATER_BYTES } from './record.js'
import { UsageError, type ErrorKind } from '../errors.js'
import { snapshotSession, type PipeSessionSnapshot } from './session-snapshot.js'

/** One path of the session: a subflow bound to a local address (policy routing picks its link). */
export interface PipePathSpec {
  /** Local address the subflow's socket binds to; none = the system's choice. */
  localAddress?: string
  /** Used only while no primary path is up. */
  backup?: boolean
  /** The path's rate, if known: the scheduler plans with it as a cap (0 = learn it). */
  rateBitsPerSec?: number
  /** Static share for the `weighted` scheduler (default: the rate, else 1). */
  weight?: number
}

export interface PipeClientOptions {
  listen: HostPort
  server: HostPort
  key: Uint8Array
  /** One subflow per path (default: one unbound path). */
  paths?: PipePathSpec[]
  scheduler?: SchedulerKind
  tunables?: Partial<PipeTunables>
  log?: Logger
  clock?: Clock
  /** Wall-clock time at start, for handshake timestamps (default Date.now()). */
  wallClockMs?: number
  /** Randomness in [0, 1) for backoff jitter (default Math.random). */
  random?: () => number
}

export type ClientState = 'connecting' | 'up' | 'backoff' | 'closed'

export interface PipeClientStats {
  state: ClientState
  handshakes: number
  rekeys: number
  streamsActive: number
  streamsTotal: number
  streamsRefused: number
  sessionRttMs: number | undefined
  /** Received bytes waiting for slow local readers, now and at most. */
  bufferedBytes: number
  peakBufferedBytes: number
  /** Failed or dropped sessions by kind, with the last source and time (monotonic ms). */
  errors: Partial<Record<ErrorKind | 'connect', { count: number, lastSource: string, lastAtMs: number }>>
}

/** Connections that may wait for a handshake in progress (our choice). */
const MAX_WAITING_CONNECTIONS = 4096
/**
 * Unsent bytes a subflow's kernel buffer may hold before the socket stops taking more (our
 * choice): the rest waits in our own queue, where the scheduler sees it and can still choose.
 */
const NOTSENT_LOWAT_BYTES = 256 * 1024

interface PathSlot {
  /** A copy of the option's spec: runtime changes (`gst path`) update it for later subflows. */
  spec: PipePathSpec
  label: string
  subflow: Subflow | undefined
  failures: number
  timer: NodeJS.Timeout | undefined
  /** Set down by the operator: not dialled (nor re-dialled) until set up again. */
  isAdminDown: boolean
}

export class PipeClient {
  private readonly listener: net.Server
  private readonly tunables: PipeTunables
  private readonly log: Logger
  private readonly clock: Clock
  private readonly timestamps: MonotonicTimestamps
  private readonly clientId = randomBytes(CLIENT_ID_BYTES)
  private readonly random: () => number
  private readonly logLimiter = new LogLimiter(5_000)
  private mux: Multiplexer | undefined
  private readonly slots: PathSlot[]
  /** The scheduler of this and later sessions (`gst set scheduler=` changes it). */
  private scheduler: SchedulerKind
  /** Which path the next new session is dialled on (moves on after a failure). */
  private creatorIndex = 0
  private currentSessionId: Buffer | undefined
  private sessionTimestamp: Buffer | undefined
  private lastTimestamp: Buffer | undefined
  private closedPeakBufferedBytes = 0
  private waiting: net.Socket[] = []
  private failures = 0
  private reconnectTimer: NodeJS.Timeout | undefined
  private upWaiters: Array<() => void> = []
  private closedRekeys = 0
  private closedStreams = 0
  private currentState: ClientState = 'connecting'
  /** When `state` last changed (monotonic ms), and when the current session came up: for `show`. */
  stateSinceMs: number
  private sessionOpenedAtMs = 0
  /** Sessions made so far: the current one's id in `show`. */
  private sessionNumber = 0
  readonly stats: PipeClientStats = { state: 'connecting', handshakes: 0, rekeys: 0, streamsActive: 0, streamsTotal: 0, streamsRefused: 0, sessionRttMs: undefined, bufferedBytes: 0, peakBufferedBytes: 0, errors: {} }

  get state (): ClientState { return this.currentState }
  set state (next: ClientState) {
    if (next === this.currentState) return
    this.currentState = next
    this.stateSinceMs = this.clock.now()
  }

  constructor (private readonly options: PipeClientOptions) {
    this.tunables = resolveTunables(options.tunables)
    this.log = options.log ?? silentLogger
    this.clock = options.clock ?? monotonicClock
    this.stateSinceMs = this.clock.now()
    this.random = options.random ?? Math.random
    this.timestamps = new MonotonicTimestamps(this.clock, options.wallClockMs ?? Date.now())
    this.listener = net.createServer({ allowHalfOpen: true, noDelay: true }, (socket) => this.onAccept(socket))
    const paths = options.paths !== undefined && options.paths.length > 0 ? options.paths : [{}]
    if (paths.length > 256) throw new Error('at most 256 paths')
    this.slots = paths.map((spec, i) => ({ spec: { ...spec }, label: spec.localAddress ?? `path${i}`, subflow: undefined, failures: 0, timer: undefined, isAdminDown: false }))
    this.scheduler = options.scheduler ?? 'auto'
  }

  /** The session while it exists (tests and `show`). */
  get session (): Multiplexer | undefined { return this.mux }

  async start (): Promise<AddressInfo> {
    const address = await listenOn(this.listener, this.options.listen)
    this.log.info(`client listening on ${formatHostPort({ host: address.address, port: address.port })}, server ${formatHostPort(this.options.server)}`)
    this.dial()
    return address
  }

  /** Resolves once a session is up (for demos and tests). */
  async untilUp (): Promise<void> {
    if (this.state === 'up') return
    await new Promise<void>((resolve) => this.upWaiters.push(resolve))
  }

  async close (): Promise<void> {
    this.state = 'closed'
    clearTimeout(this.reconnectTimer)
    for (const slot of this.slots) clearTimeout(slot.timer)
    for (const socket of this.waiting) socket.resetAndDestroy()
    this.waiting = []
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()))
    const sockets = this.slots.map((slot) => slot.subflow?.channel.socket).filter((s) => s !== undefined && !s.destroyed)
    const gone = Promise.all(sockets.map((socket) => new Promise<void>((resolve) => socket!.once('close', () => resolve()))))
    this.mux?.close(CloseReason.Shutdown, 'client shutting down')
    for (const slot of this.slots) slot.subflow?.channel.close(CloseReason.Shutdown, 'client shutting down')
    await gone
    await closed
  }

  snapshot (): PipeClientStats {
    const mux = this.mux
    return {
      ...this.stats,
      state: this.state,
      rekeys: this.closedRekeys + (mux?.rotations ?? 0),
      streamsActive: mux?.streams.size ?? 0,
      streamsTotal: this.closedStreams + (mux?.streamsOpened ?? 0),
      sessionRttMs: mux !== undefined && mux.upSubflows > 0 ? mux.channel.stats.lastRttMs : undefined,
      bufferedBytes: mux?.bufferedBytes ?? 0,
      peakBufferedBytes: Math.max(this.closedPeakBufferedBytes, mux?.peakBufferedBytes ?? 0),
    }
  }

  /** The session to the server while it is up (for `show`). */
  sessionSnapshot (): PipeSessionSnapshot | undefined {
    const mux = this.mux
    return mux === undefined ? undefined : snapshotSession(this.sessionNumber, mux, this.sessionOpenedAtMs)
  }

  private countError (kind: ErrorKind | 'connect'): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = formatHostPort(this.options.server)
    entry.lastAtMs = this.clock.now()
  }

  private onAccept (socket: net.Socket): void {
    const description = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    if (this.mux !== undefined && !this.mux.isEnded) {
      this.mux.openStream(socket, description)
      return
    }
    if (this.state === 'connecting' && this.waiting.length < MAX_WAITING_CONNECTIONS) {
      this.waiting.push(socket)
      socket.once('close', () => { this.waiting = this.waiting.filter((s) => s !== socket) })
      return
    }
    this.refuse(socket, this.state === 'closed' ? 'client closing' : 'no session to the server (reconnecting)')
  }

  private refuse (socket: net.Socket, why: string): void {
    this.stats.streamsRefused++
    const suppressed = this.logLimiter.admit('refuse', this.clock.now())
    if (suppressed >= 0) this.log.warn(`connection from ${socket.remoteAddress ?? '?'} refused: ${why}${suppressed ? ` (${suppressed} more not shown)` : ''}`)
    socket.on('error', () => {})
    socket.resetAndDestroy()
  }

  /**
   * Runtime `rekey=` (`gst set`): the session's next rotation is due `ms` after its last one, and
   * later sessions use it too. Nothing is interrupted. Throws a UsageError out of bounds.
   */
  setRekeyInterval (ms: number): void {
    this.tunables.rekeyIntervalMs = resolveTunables({ ...this.tunables, rekeyIntervalMs: ms }).rekeyIntervalMs
    for (const subflow of this.mux?.subflows ?? []) subflow.channel.rekeyIntervalChanged()
  }

  /** Runtime `scheduler=` (`gst set`): the current session chooses with it from its next unit on. */
  setScheduler (kind: SchedulerKind): void {
    this.scheduler = kind
    this.mux?.setScheduler(kind)
  }

  /**
   * Runtime path change (`gst path`): preference, rate cap and weight apply to the live subflow
   * at once and to later ones; `down` closes the subflow (what it had not delivered goes out on
   * the others) and stops dialling it until `up`. Throws a UsageError for an unknown path, or
   * for taking down the last path that is not down.
   */
  setPath (index: number, change: PathChange): string {
    const slot = this.slots[index]
    if (slot === undefined) throw new UsageError(`no path ${index} (this client has paths 0 to ${this.slots.length - 1}; see gst show)`)
    if (change.down === true && !slot.isAdminDown && this.slots.every((s) => s === slot || s.isAdminDown)) {
      throw new UsageError(`path ${index} (${slot.label}) is the only path not set down: set another path up first`)
    }
    if (change.preference !== undefined) slot.spec.backup = change.preference === 'backup'
    if (change.rateBitsPerSec !== undefined) slot.spec.rateBitsPerSec = change.rateBitsPerSec
    if (change.weight !== undefined) slot.spec.weight = change.weight
    const path = slot.subflow?.path
    if (path !== undefined) {
      if (change.preference !== undefined) {
        path.preference = change.preference
        if (path.state === 'up' || path.state === 'backup') path.state = change.preference === 'backup' ? 'backup' : 'up'
      }
      if (change.rateBitsPerSec !== undefined) path.txCapBitsPerSec = change.rateBitsPerSec
      if (change.weight !== undefined) path.weight = change.weight
    }
    if (change.down !== undefined && change.down !== slot.isAdminDown) {
      slot.isAdminDown = change.down
      clearTimeout(slot.timer)
      slot.timer = undefined
      slot.failures = 0
      // fail, not close: a CLOSE frame would end the whole session at the server
      if (change.down) slot.subflow?.channel.fail(new Error('path set down by the operator'))
      else if (this.mux !== undefined && !this.mux.isEnded && slot.subflow === undefined) this.dialPath(index, this.mux)
    }
    return `path ${slot.label}: ${describePathChange(change)}`
  }

  /** Starts a new session on the next path (the first one, or the next after a failure). */
  private dial (): void {
    if (this.state === 'closed') return
    this.state = 'connecting'
    while (this.slots[this.creatorIndex % this.slots.length]!.isAdminDown) this.creatorIndex++
    const index = this.creatorIndex % this.slots.length
    this.dialPath(index, undefined)
  }

  /** Dials path `index`: a new session when `session` is undefined, else a join of it. */
  private dialPath (index: number, session: Multiplexer | undefined): void {
    const slot = this.slots[index]!
    clearTimeout(slot.timer)
    slot.timer = undefined
    const server = this.options.server
    // writableHighWaterMark reaches the socket's Duplex constructor (net's typings omit it). With
    // several paths Node's default stays: a subflow then counts as full sooner, so the scheduler
    // moves on to another (the larger queue measured a few % less over the lab's two links).
    const connectOptions: net.NetConnectOpts & { writableHighWaterMark?: number } = {
      host: server.host, port: server.port, noDelay: true,
      ...(this.slots.length === 1 ? { writableHighWaterMark: SOCKET_WRITE_HIGH_WATER_BYTES } : {}),
      ...(slot.spec.localAddress !== undefined ? { localAddress: slot.spec.localAddress } : {}),
    }
    const socket = net.connect(connectOptions)
    socket.on('connect', () => { try { setNotsentLowat(socket, NOTSENT_LOWAT_BYTES) } catch { /* best effort */ } })
    const via = slot.spec.localAddress !== undefined ? ` via ${slot.spec.localAddress}` : ''
    const label = `session to ${formatHostPort(server)}${via}`
    let opened = false
    const subflow = new Subflow({
      pathId: index,
      label: slot.label,
      preference: slot.spec.backup === true ? 'backup' : 'primary',
      rateBitsPerSec: slot.spec.rateBitsPerSec ?? 0,
      weight: slot.spec.weight ?? 0,
    }, {
      onOpen: (sf, peerPayload, joinKey) => {
        opened = true
        slot.failures = 0
        this.stats.handshakes++
        if (session === undefined) {
          const welcome = decodeWelcome(peerPayload)
          const mux = this.newSession()
          mux.joinKey = joinKey
          mux.label = `session to ${formatHostPort(server)}`
          mux.setPeerWindow(welcome.streamWindowBytes)
          this.currentSessionId = Buffer.from(welcome.sessionId)
          this.sessionTimestamp = this.lastTimestamp
          this.mux = mux
          this.failures = 0
          this.sessionOpenedAtMs = this.clock.now()
          this.sessionNumber++
          sf.session = mux
          mux.addSubflow(sf)
          this.state = 'up'
          this.log.info(`${label} up`)
          const waiting = this.waiting
          this.waiting = []
          for (const s of waiting) if (!s.destroyed) mux.openStream(s, `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`)
          for (const resolve of this.upWaiters.splice(0)) resolve()
          for (let i = 0; i < this.slots.length; i++) if (this.slots[i]!.subflow === undefined && !this.slots[i]!.isAdminDown) this.dialPath(i, mux)
          return
        }
        sodium.sodium_memzero(joinKey)
        if (this.mux !== session || session.isEnded) { sf.channel.close(CloseReason.Normal, 'session gone'); return }
        sf.session = session
        session.addSubflow(sf)
        this.state = 'up'
        this.log.info(`${label}: path ${slot.label} joined (${session.upSubflows} up)`)
        for (const resolve of this.upWaiters.splice(0)) resolve()
      },
      onFrame: (sf, type, streamId, payload) => sf.session!.onFrame(sf, type, streamId, payload),
      onDrain: (sf) => sf.session?.onDrain(),
      onClose: (sf, error) => {
        if (slot.subflow === sf) slot.subflow = undefined
        if (opened) {
          sf.session?.removeSubflow(sf, error)
          const mux = sf.session
          if (this.state === 'closed' || mux === undefined || mux.isEnded || this.mux !== mux) return
          const kind = (error as { kind?: ErrorKind } | undefined)?.kind
          if (kind !== undefined) this.countError(kind)
          if (mux.upSubflows === 0) this.state = 'connecting'
          if (slot.isAdminDown) return
          this.redial(index, mux, `path ${slot.label} lost: ${error?.message ?? 'connection closed'}`)
          return
        }
        if (this.state === 'closed') return
        const kind = (error as { kind?: ErrorKind } | undefined)?.kind
        const isConnectError = (error as NodeJS.ErrnoException | undefined)?.syscall !== undefined
        if (kind !== undefined) this.countError(kind)
        else this.countError(isConnectError ? 'connect' : 'handshake')
        if (session !== undefined) {
          if (this.mux !== session || session.isEnded) return
          // The server answered but refused the join while we have no other subflow: it no longer
          // knows this session (it restarted): start a new one at once.
          if (!isConnectError && session.upSubflows === 0) {
            this.log.warn(`${label}: join refused (${error?.message ?? 'connection closed'}); the server lost the session, starting a new one`)
            session.close(CloseReason.Normal, 'session unknown to the server')
            return
          }
          this.redial(index, session, `${label}: join failed: ${error?.message ?? 'connection closed'}`)
          return
        }
        for (const s of this.waiting.splice(0)) this.refuse(s, `handshake failed: ${error?.message ?? 'connection closed'}`)
        this.failures++
        this.creatorIndex++
        const delayMs = this.backoffMs(this.failures)
        this.state = 'backoff'
        const suppressed = this.logLimiter.admit(`dial ${error?.message ?? ''}`, this.clock.now())
        if (suppressed >= 0) this.log.warn(`${label} failed: ${error?.message ?? 'connection closed'}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
        this.reconnectTimer = setTimeout(() => this.dial(), delayMs)
      },
    })
    slot.subflow = subflow
    const timestamp = this.timestamps.next()
    this.lastTimestamp = timestamp
    const hello = session === undefined
      ? encodeHello({ purpose: HelloPurpose.NewSession, timestamp, clientId: this.clientId, streamWindowBytes: this.tunables.streamWindowBytes })
      : (ephemeral: Buffer) => encodeHello({
          purpose: HelloPurpose.JoinSession,
          timestamp,
          clientId: this.clientId,
          streamWindowBytes: this.tunables.streamWindowBytes,
          join: { sessionId: this.currentSessionId!, pathId: index, proof: joinProof(session.joinKey!, this.currentSessionId!, index, timestamp, ephemeral) },
        })
    const channel = new SecureChannel(
      socket,
      { kind: 'initiator', psk: this.options.key, prologue: SESSION_PROLOGUE, helloPayload: hello },
      subflow,
      this.tunables,
      this.clock,
      this.log,
      label,
    )
    subflow.attach(channel)
  }

  /** Re-dials a lost path of the current session after its backoff. */
  private redial (index: number, session: Multiplexer, why: string): void {
    const slot = this.slots[index]!
    slot.failures++
    const delayMs = this.backoffMs(slot.failures)
    const suppressed = this.logLimiter.admit(`path ${index} ${why}`, this.clock.now())
    if (suppressed >= 0) this.log.warn(`${why}; re-dialling in ${(delayMs / 1000).toFixed(1)} s`)
    clearTimeout(slot.timer)
    slot.timer = setTimeout(() => {
      slot.timer = undefined
      if (this.state !== 'closed' && this.mux === session && !session.isEnded && slot.subflow === undefined && !slot.isAdminDown) this.dialPath(index, session)
    }, delayMs)
  }

  private newSession (): Multiplexer {
    const mux: Multiplexer = new Multiplexer({
      ...muxLimitsOf(this.tunables),
      scheduler: this.scheduler,
      log: this.log,
      clock: this.clock,
      random: this.random,
    }, {
      onCapHit: () => this.countError('limit'),
      onClose: (_mux, error) => {
        if (this.mux === mux) this.mux = undefined
        this.closedRekeys += mux.rotations
        this.closedStreams += mux.streamsOpened
        this.closedPeakBufferedBytes = Math.max(this.closedPeakBufferedBytes, mux.peakBufferedBytes)
        for (const slot of this.slots) { clearTimeout(slot.timer); slot.timer = undefined; slot.failures = 0 }
        if (this.state === 'closed') return
        const kind = (error as { kind?: ErrorKind } | undefined)?.kind
        if (kind !== undefined) this.countError(kind)
        this.failures++
        const delayMs = this.backoffMs(this.failures)
        this.state = 'backoff'
        const suppressed = this.logLimiter.admit(`session ${error?.message ?? ''}`, this.clock.now())
        if (suppressed >= 0) this.log.warn(`session to ${formatHostPort(this.options.server)} ${error === undefined ? 'closed' : `lost: ${error.message}`}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
        this.reconnectTimer = setTimeout(() => this.dial(), delayMs)
      },
    })
    return mux
  }

  private backoffMs (failures: number): number {
    const { reconnectMinMs, reconnectMaxMs } = this.tunables
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(failures - 1, 20))
    return Math.round(base * (0.5 + 0.5 * this.random()))
  }
}
