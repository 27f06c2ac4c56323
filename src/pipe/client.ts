/**
 * gst-client: keeps one encrypted session to the server and carries every connection accepted on
 * LISTEN as a stream of it. Reconnects with jittered exponential backoff; connections accepted
 * while no session exists are refused at once (reset), except during a handshake in progress,
 * when they wait for it.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { randomBytes } from 'node:crypto'
import { MonotonicTimestamps } from '../crypto/tai64n.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import { SecureChannel } from './channel.js'
import { Multiplexer } from './mux.js'
import { CLIENT_ID_BYTES, HelloPurpose, SESSION_PROLOGUE, decodeWelcome, encodeHello } from './hello.js'
import { resolveTunables, type PipeTunables } from './config.js'
import { formatHostPort, listenOn, type HostPort } from './address.js'
import { CloseReason } from './frame.js'
import type { ErrorKind } from '../errors.js'
import { snapshotSession, type PipeSessionSnapshot } from './session-snapshot.js'

export interface PipeClientOptions {
  listen: HostPort
  server: HostPort
  key: Uint8Array
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
  }

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
    for (const socket of this.waiting) socket.resetAndDestroy()
    this.waiting = []
    const closed = new Promise<void>((resolve) => this.listener.close(() => resolve()))
    const mux = this.mux
    if (mux !== undefined) {
      const gone = new Promise<void>((resolve) => mux.channel.socket.once('close', () => resolve()))
      mux.channel.close(CloseReason.Shutdown, 'client shutting down')
      await gone
    }
    await closed
  }

  snapshot (): PipeClientStats {
    const mux = this.state === 'up' ? this.mux : undefined
    return {
      ...this.stats,
      state: this.state,
      rekeys: this.closedRekeys + (mux?.channel.rotations ?? 0),
      streamsActive: mux?.streams.size ?? 0,
      streamsTotal: this.closedStreams + (mux?.streamsOpened ?? 0),
      sessionRttMs: mux?.channel.stats.lastRttMs,
      bufferedBytes: mux?.bufferedBytes ?? 0,
      peakBufferedBytes: mux?.peakBufferedBytes ?? 0,
    }
  }

  /** The session to the server while it is up (for `show`). */
  sessionSnapshot (): PipeSessionSnapshot | undefined {
    const mux = this.state === 'up' ? this.mux : undefined
    return mux === undefined ? undefined : snapshotSession(this.stats.handshakes, mux, this.sessionOpenedAtMs)
  }

  private countError (kind: ErrorKind | 'connect'): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = formatHostPort(this.options.server)
    entry.lastAtMs = this.clock.now()
  }

  private onAccept (socket: net.Socket): void {
    const description = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`
    if (this.state === 'up' && this.mux !== undefined) {
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
    this.mux?.channel.rekeyIntervalChanged()
  }

  private dial (): void {
    if (this.state === 'closed') return
    this.state = 'connecting'
    const server = this.options.server
    const socket = net.connect({ host: server.host, port: server.port, noDelay: true })
    const label = `session to ${formatHostPort(server)}`
    let opened = false
    const mux: Multiplexer = new Multiplexer({
      localWindowBytes: this.tunables.streamWindowBytes,
      maxStreams: this.tunables.maxStreams,
      sessionBufferBytes: this.tunables.sessionBufferBytes,
      log: this.log,
    }, {
      onOpen: (_mux, peerPayload) => {
        const welcome = decodeWelcome(peerPayload)
        mux.setPeerWindow(welcome.streamWindowBytes)
        opened = true
        this.failures = 0
        this.state = 'up'
        this.stats.handshakes++
        this.sessionOpenedAtMs = this.clock.now()
        this.log.info(`${label} up`)
        const waiting = this.waiting
        this.waiting = []
        for (const s of waiting) if (!s.destroyed) mux.openStream(s, `${s.remoteAddress ?? '?'}:${s.remotePort ?? '?'}`)
        for (const resolve of this.upWaiters.splice(0)) resolve()
      },
      onClose: (_mux, error) => {
        if (this.mux === mux) this.mux = undefined
        if (opened) {
          this.closedRekeys += mux.channel.rotations
          this.closedStreams += mux.streamsOpened
        }
        if (this.state === 'closed') return
        const kind = (error as { kind?: ErrorKind } | undefined)?.kind
        if (kind !== undefined) this.countError(kind)
        else if (!opened) this.countError((error as NodeJS.ErrnoException | undefined)?.syscall !== undefined ? 'connect' : 'handshake')
        for (const s of this.waiting.splice(0)) this.refuse(s, `handshake failed: ${error?.message ?? 'connection closed'}`)
        this.failures++
        const delayMs = this.backoffMs()
        this.state = 'backoff'
        const what = opened ? `${label} lost` : `${label} failed`
        const suppressed = this.logLimiter.admit(`dial ${error?.message ?? ''}`, this.clock.now())
        if (suppressed >= 0) this.log.warn(`${what}: ${error?.message ?? 'connection closed'}; retrying in ${(delayMs / 1000).toFixed(1)} s`)
        this.reconnectTimer = setTimeout(() => this.dial(), delayMs)
      },
    })
    this.mux = mux
    const hello = encodeHello({
      purpose: HelloPurpose.NewSession,
      timestamp: this.timestamps.next(),
      clientId: this.clientId,
      streamWindowBytes: this.tunables.streamWindowBytes,
    })
    const channel = new SecureChannel(
      socket,
      { kind: 'initiator', psk: this.options.key, prologue: SESSION_PROLOGUE, helloPayload: hello },
      mux,
      this.tunables,
      this.clock,
      this.log,
      label,
    )
    mux.attach(channel)
  }

  private backoffMs (): number {
    const { reconnectMinMs, reconnectMaxMs } = this.tunables
    const base = Math.min(reconnectMaxMs, reconnectMinMs * 2 ** Math.min(this.failures - 1, 20))
    return Math.round(base * (0.5 + 0.5 * this.random()))
  }
}
