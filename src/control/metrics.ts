/**
 * Prometheus metrics for `--metrics HOST:PORT`, built from the same StatusReport `gst show` reads,
 * so every mode (pipe server/client, VPN server/client) exports the same families.
 *
 * Each scrape reads one report (`collect()`), clears every family and fills it from that report:
 * counters mirror the instance's own cumulative counts (so a session or path that ends takes its
 * series with it, as in Prometheus's model of a target whose labels come and go). Names follow the
 * Prometheus conventions: `gst_` prefix, base units in the name (`_seconds`, `_bytes`,
 * `_bits_per_second`), `_total` on counters.
 */
import http from 'node:http'
import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import { silentLogger, type Logger } from '../log.js'
import { ERROR_KINDS, type PathState, type SessionState, type StatusReport } from './status.js'

const SESSION_STATES: SessionState[] = ['connecting', 'handshake', 'up', 'backoff', 'down', 'closed']
const PATH_STATES: PathState[] = ['probing', 'up', 'degraded', 'down', 'backup']

export interface StatusMetricsOptions {
  /** Reads the current report (the control socket's provider). */
  collect: () => StatusReport
  /** Also export prom-client's process metrics (CPU, memory, event loop lag) as `gst_process_...` (default true). */
  processMetrics?: boolean
}

type Labels<T extends string> = Partial<Record<T, string | number>>

/** The metric families and the registry they live in; `render()` is one scrape. */
export class StatusMetrics {
  readonly registry = new Registry()
  private readonly collect: () => StatusReport
  private readonly info: Gauge<'name' | 'mode' | 'version'>
  private readonly uptime: Gauge
  private readonly sessions: Gauge<'state'>
  private readonly streamsActive: Gauge
  private readonly streamsOpened: Counter
  private readonly streamsRefused: Counter
  private readonly sessionIn: Counter<'session' | 'peer'>
  private readonly sessionOut: Counter<'session' | 'peer'>
  private readonly sessionRtt: Gauge<'session' | 'peer'>
  private readonly rekeys: Counter<'session' | 'peer'>
  private readonly pathIn: Counter<'session' | 'path' | 'local' | 'remote'>
  private readonly pathOut: Counter<'session' | 'path' | 'local' | 'remote'>
  private readonly pathRtt: Gauge<'session' | 'path' | 'local' | 'remote'>
  private readonly pathLoss: Gauge<'session' | 'path' | 'local' | 'remote'>
  private readonly pathRate: Gauge<'session' | 'path' | 'local' | 'remote'>
  private readonly pathMtu: Gauge<'session' | 'path' | 'local' | 'remote'>
  private readonly pathState: Gauge<'session' | 'path' | 'local' | 'remote' | 'state'>
  private readonly errors: Counter<'kind'>
  private readonly all: Array<Counter<string> | Gauge<string>>

  constructor (options: StatusMetricsOptions) {
    this.collect = options.collect
    const registers = [this.registry]
    const pathLabels = ['session', 'path', 'local', 'remote'] as const
    const sessionLabels = ['session', 'peer'] as const
    this.info = new Gauge({ name: 'gst_instance_info', help: 'Always 1; labels name the instance, its mode and gst version', labelNames: ['name', 'mode', 'version'], registers })
    this.uptime = new Gauge({ name: 'gst_uptime_seconds', help: 'Seconds since the instance started', registers })
    this.sessions = new Gauge({ name: 'gst_sessions', help: 'Sessions by state', labelNames: ['state'], registers })
    this.streamsActive = new Gauge({ name: 'gst_streams_active', help: 'Streams open now (pipe only)', registers })
    this.streamsOpened = new Counter({ name: 'gst_streams_opened_total', help: 'Streams opened since start (pipe only)', registers })
    this.streamsRefused = new Counter({ name: 'gst_streams_refused_total', help: 'Streams refused: no session up (client) or TARGET unreachable (server)', registers })
    this.sessionIn = new Counter({ name: 'gst_session_received_bytes_total', help: 'Bytes on the wire received by a session', labelNames: sessionLabels, registers })
    this.sessionOut = new Counter({ name: 'gst_session_sent_bytes_total', help: 'Bytes on the wire sent by a session', labelNames: sessionLabels, registers })
    this.sessionRtt = new Gauge({ name: 'gst_session_rtt_seconds', help: 'Latest round-trip time measured inside a session', labelNames: sessionLabels, registers })
    this.rekeys = new Counter({ name: 'gst_session_rekeys_total', help: 'Completed key rotations of a session', labelNames: sessionLabels, registers })
    this.pathIn = new Counter({ name: 'gst_path_received_bytes_total', help: 'Bytes received on a path', labelNames: pathLabels, registers })
    this.pathOut = new Counter({ name: 'gst_path_sent_bytes_total', help: 'Bytes sent on a path', labelNames: pathLabels, registers })
    this.pathRtt = new Gauge({ name: 'gst_path_rtt_seconds', help: 'Smoothed round-trip time of a path', labelNames: pathLabels, registers })
    this.pathLoss = new Gauge({ name: 'gst_path_loss_ratio', help: 'Estimated loss of a path, 0 to 1', labelNames: pathLabels, registers })
    this.pathRate = new Gauge({ name: 'gst_path_rate_bits_per_second', help: 'Estimated (or capped) delivery rate of a path', labelNames: pathLabels, registers })
    this.pathMtu = new Gauge({ name: 'gst_path_mtu_bytes', help: 'Path MTU', labelNames: pathLabels, registers })
    this.pathState = new Gauge({ name: 'gst_path_state', help: '1 for the current state of a path, 0 for the others', labelNames: [...pathLabels, 'state'], registers })
    this.errors = new Counter({ name: 'gst_errors_total', help: 'Failures by kind (decrypt, replay, handshake, malformed, oversized, limit, connect)', labelNames: ['kind'], registers })
    this.all = [this.info, this.uptime, this.sessions, this.streamsActive, this.streamsOpened, this.streamsRefused,
      this.sessionIn, this.sessionOut, this.sessionRtt, this.rekeys, this.pathIn, this.pathOut, this.pathRtt,
      this.pathLoss, this.pathRate, this.pathMtu, this.pathState, this.errors] as Array<Counter<string> | Gauge<string>>
    if (options.processMetrics !== false) collectDefaultMetrics({ register: this.registry, prefix: 'gst_' })
  }

  get contentType (): string { return this.registry.contentType }

  /** Fills every family from `report` (what one scrape does after reading it). */
  update (report: StatusReport): void {
    for (const metric of this.all) metric.reset()
    const { instance } = report
    this.info.set({ name: instance.name, mode: instance.mode, version: instance.version }, 1)
    this.uptime.set(instance.uptimeS)
    const byState = new Map<SessionState, number>(SESSION_STATES.map((s) => [s, 0]))
    for (const s of report.sessions) byState.set(s.state, (byState.get(s.state) ?? 0) + 1)
    for (const [state, n] of byState) this.sessions.set({ state }, n)
    if (report.streams !== null) {
      this.streamsActive.set(report.streams.active)
      inc(this.streamsOpened, {}, report.streams.total)
      inc(this.streamsRefused, {}, report.streams.refused)
    }
    for (const s of report.sessions) {
      const sl = { session: s.id, peer: s.peer }
      inc(this.sessionIn, sl, s.bytesIn)
      inc(this.sessionOut, sl, s.bytesOut)
      inc(this.rekeys, sl, s.rekeys)
      if (s.rttMs !== null) this.sessionRtt.set(sl, s.rttMs / 1000)
      for (const p of s.paths ?? []) {
        const pl = { session: s.id, path: p.id, local: p.local, remote: p.remote }
        inc(this.pathIn, pl, p.bytesIn)
        inc(this.pathOut, pl, p.bytesOut)
        if (p.rttMs !== null) this.pathRtt.set(pl, p.rttMs / 1000)
        if (p.lossPct !== null) this.pathLoss.set(pl, p.lossPct / 100)
        if (p.rateBitsPerSec !== null) this.pathRate.set(pl, p.rateBitsPerSec)
        if (p.mtuBytes !== null) this.pathMtu.set(pl, p.mtuBytes)
        for (const state of PATH_STATES) this.pathState.set({ ...pl, state }, state === p.state ? 1 : 0)
      }
    }
    for (const kind of ERROR_KINDS) inc(this.errors, { kind }, report.errors[kind]?.count ?? 0)
  }

  /** One scrape: reads the current report and returns the text exposition format. */
  async render (): Promise<string> {
    this.update(this.collect())
    return await this.registry.metrics()
  }
}

function inc<T extends string> (counter: Counter<T>, labels: Labels<T>, value: number): void {
  counter.inc(labels, Number.isFinite(value) && value > 0 ? value : 0)
}

export interface MetricsServerOptions {
  host: string
  port: number
  metrics: StatusMetrics
  log?: Logger
}

/** Serves GET /metrics (and / as a pointer to it) over plain HTTP. */
export class MetricsServer {
  private readonly server: http.Server
  private readonly log: Logger

  constructor (private readonly options: MetricsServerOptions) {
    this.log = options.log ?? silentLogger
    this.server = http.createServer((req, res) => { void this.handle(req, res) })
    this.server.keepAliveTimeout = 5_000
  }

  /** Binds; resolves with the bound address (port 0 picks one). */
  async start (): Promise<{ address: string, port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject)
      this.server.listen(this.options.port, this.options.host, () => {
        this.server.off('error', reject)
        resolve()
      })
    })
    const bound = this.server.address()
    if (bound === null || typeof bound === 'string') throw new Error('metrics server has no address')
    return { address: bound.address, port: bound.port }
  }

  async close (): Promise<void> {
    if (!this.server.listening) return
    const closed = new Promise<void>((resolve) => this.server.close(() => resolve()))
    this.server.closeAllConnections()
    await closed
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = (req.url ?? '/').split('?')[0]
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end()
      return
    }
    if (url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/plain; charset=utf-8' }).end('gst metrics: see /metrics\n')
      return
    }
    if (url !== '/metrics') {
      res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' }).end('not found: metrics are at /metrics\n')
      return
    }
    try {
      const body = await this.options.metrics.render()
      res.writeHead(200, { 'Content-Type': this.options.metrics.contentType })
      res.end(req.method === 'HEAD' ? undefined : body)
    } catch (err) {
      this.log.warn(`metrics: scrape failed: ${(err as Error).message}`)
      res.writeHead(500, { 'Content-Type': 'text/plain; charset=utf-8' }).end('scrape failed\n')
    }
  }
}
