/**
 * ttt client: one TUN device, one UDP socket per path (bound to the path's local address so
 * policy routing sends it out its own link), one session to the server, all paths bonded by the
 * multipath core. Handshakes retry on the next path every second; a session whose every path has
 * gone quiet is replaced by a new handshake while the old one keeps working.
 */
import { randomBytes, randomInt } from 'node:crypto'
import { type TunDevice, UdpSocket, setBufferSize, setMtuDiscover, bindToDevice, setMark, encodeAddress, endpointText, ADDR_BYTES, PEER_ADDR_BYTES } from '../native/index.js'
import { MonotonicTimestamps } from '../crypto/tai64n.js'
import { CookieJar } from '../crypto/cookie.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import type { SchedulerKind, PathPreference } from '../multipath/index.js'
import { Peer, type EqualDelayScope } from './peer.js'
import { UsageError } from '../errors.js'
import { applyPathChange, type PathChange } from './runtime.js'
import { SendBatch } from './send-batch.js'
import { BatchOpener } from './batch-opener.js'
import { TickGate } from './tick-gate.js'
import { TunWriteBatch } from './tun-write-batch.js'
import { snapshotPeer, type VpnPeerSnapshot } from './snapshot.js'
import { PathChangeLog } from './path-change-log.js'
import { openTun } from './interface-config.js'
import { VpnSession, type SessionTimings } from './session.js'
import { InitHandshake, CLIENT_ID_BYTES, responseReceiverIndex, cookieReplyReceiverIndex } from './handshake.js'
import { HandshakeSilence } from './handshake-silence.js'
import { CloseReason, DatagramType, DATA_OVERHEAD_BYTES, readSealedCounter } from './wire.js'

export interface ClientPathOptions {
  /** Local address the path's socket binds to (a wildcard with `device`). */
  localAddress: string
  /** SO_BINDTODEVICE: the path leaves through this interface whatever the routing table says. */
  device?: string
  /** SO_MARK: a fwmark for policy routing (`ip rule add fwmark N table T`). */
  mark?: number
  preference?: PathPreference
  txCapBitsPerSec?: number
  weight?: number
}

export interface VpnTunables extends SessionTimings {
  /** Housekeeping period (probes, feedback, reorder expiry). */
  tickMs: number
  /** Resend an unanswered handshake after this long. */
  handshakeRetryMs: number
  /** Re-handshake when no path has heard from the peer for this long. */
  deadSessionMs: number
  /** Server: forget a client heard from for none of this long. */
  clientIdleMs: number
  probeIntervalMs: number
  downFloorMs: number
  /** Log each hole, late fill and nack at debug level (ttt --log-level debug; see HoleTrace). */
  traceHoles: boolean
}

export const DEFAULT_VPN_TUNABLES: Readonly<VpnTunables> = Object.freeze({
  rekeyIntervalMs: 60_000,
  rekeyGraceMs: 10_000,
  rekeyRetryMs: 1_000,
  maxKeyAgeMs: 180_000,
  tickMs: 5,
  handshakeRetryMs: 1_000,
  deadSessionMs: 3_000,
  clientIdleMs: 180_000,
  probeIntervalMs: 100,
  downFloorMs: 60,
  traceHoles: false,
})

export interface VpnClientOptions {
  server: { address: string, port: number }
  /**
   * When --server is a name: looks it up again. Called while handshakes go unanswered, so a
   * server whose address changed (dynamic DNS, a moved VPS) is found without a restart.
   */
  resolveServer?: { name: string, lookup: () => Promise<{ address: string, port: number }> }
  key: Uint8Array
  paths: ClientPathOptions[]
  tun: { name?: string, addresses?: string[], mtuBytes?: number }
  scheduler?: SchedulerKind
  /** Pace each path's sends to its estimated rate (see PeerOptions.pacing). */
  pacing?: boolean
  /** Hold what arrives over faster paths to the slowest path's delay: TCP only, or all (see PeerOptions.equalDelay). */
  equalDelay?: EqualDelayScope
  tunables?: Partial<VpnTunables>
  /** Called once when the instance cannot go on (its TUN was removed); the caller shuts it down. */
  onFatal?: (reason: string) => void
  log?: Logger
  clock?: Clock
  wallClockMs?: number
}

/** Our choice: socket buffers that absorb a few ms of a gigabit burst. */
export const UDP_BUFFER_BYTES = 4 * 1024 * 1024

/** Default inner MTU: a 1500-byte outer packet minus IPv4 + UDP headers and our overhead. */
export const DEFAULT_INNER_MTU = 1500 - 28 - DATA_OVERHEAD_BYTES

export interface VpnClientStats {
  state: 'handshaking' | 'up'
  handshakes: number
  rekeys: number
  /** Cookie replies received (the server was under handshake load). */
  cookieReplies: number
  /** Failures by kind, with the last time (monotonic ms). */
  errors: Record<string, { count: number, lastSource: string, lastAtMs: number }>
}

/** A flapping path's changes are summed up in one line per this many seconds. */
const PATH_FLAP_WINDOW_S = 30

/** A path's name in logs and `show`: its local end, an arrow, the server it talks to. */
function pathName (p: ClientPathOptions, serverText: string): string {
  return `${pathLocalText(p)}→${serverText}`
}

/** How a path's local end is named: its address, its device, or both (`10.0.0.5%wlan0`). */
function pathLocalText (p: ClientPathOptions): string {
  if (p.device === undefined) return p.localAddress
  return p.localAddress === '0.0.0.0' || p.localAddress === '::' ? p.device : `${p.localAddress}%${p.device}`
}

/** Binds a path's socket to its device and marks it, as asked; a refusal names the path and the reason. */
function steerPath (fd: number, p: ClientPathOptions): void {
  try {
    if (p.device !== undefined) bindToDevice(fd, p.device)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(`--path dev=${p.device}: ${code === 'ENODEV' ? 'no such interface' : code === 'EPERM' ? 'binding to a device needs CAP_NET_RAW (run as root)' : (err as Error).message}`)
  }
  try {
    if (p.mark !== undefined) setMark(fd, p.mark)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(`--path ${pathLocalText(p)} mark=${p.mark}: ${code === 'EPERM' ? 'setting a fwmark needs CAP_NET_ADMIN (run as root)' : (err as Error).message}`)
  }
}

export class VpnClient {
  readonly tun: TunDevice
  readonly sockets: UdpSocket[] = []
  private readonly batches: SendBatch[] = []
  private readonly tunBatch: TunWriteBatch
  private opener: BatchOpener | undefined
  readonly peer: Peer
  private readonly serverAddrs = new Uint8Array(ADDR_BYTES)
  /** The server as `host:port` (`[v6]:port`) for logs. */
  private serverText: string
  private readonly tunables: VpnTunables
  private readonly log: Logger
  private readonly clock: Clock
  private readonly timestamps: MonotonicTimestamps
  private readonly clientId = randomBytes(CLIENT_ID_BYTES)
  private readonly logLimiter = new LogLimiter()
  private pending: InitHandshake | undefined
  /**
   * INITs sent in the last few seconds, newest last: a server slowed down by a flood may answer
   * one after we have sent the next, and that answer must still count.
   */
  private recentInits: Array<{ init: InitHandshake, sentMs: number }> = []
  private pendingSentMs = -Infinity
  private nextHandshakePath = 0
  private lastHeardMs: number
  private timer: NodeJS.Timeout | undefined
  /** A late tick reads the sockets once more before judging paths (see TickGate). */
  private tickGate: TickGate | undefined
  private readonly mtuBytes: number
  readonly stats: VpnClientStats = { state: 'handshaking', handshakes: 0, rekeys: 0, cookieReplies: 0, errors: {} }
  /** The server's cookie for each path's address, when it was under load. */
  private readonly cookieJar = new CookieJar()
  /** Unanswered handshakes, for the line that says so. */
  private readonly silence = new HandshakeSilence()
  private closedRotations = 0

  constructor (private readonly options: VpnClientOptions) {
    if (options.paths.length === 0) throw new Error('a client needs at least one path')
    if (options.paths.length > 255) throw new Error('at most 255 paths')
    this.tunables = { ...DEFAULT_VPN_TUNABLES, ...options.tunables }
    this.log = options.log ?? silentLogger
    this.clock = options.clock ?? monotonicClock
    this.timestamps = new MonotonicTimestamps(this.clock, options.wallClockMs ?? Date.now())
    this.lastHeardMs = this.clock.now()
    this.mtuBytes = options.tun.mtuBytes ?? DEFAULT_INNER_MTU
    encodeAddress(options.server.address, options.server.port, this.serverAddrs, 0)
    this.serverText = endpointText(options.server.address, options.server.port)
    this.currentTunMtu = this.mtuBytes
    this.tun = openTun(options.tun, this.mtuBytes, (count) => this.onTunBatch(count))
    this.tunBatch = new TunWriteBatch(this.tun, this.tun.slotBytes)
    try {
      this.peer = new Peer({
        send: (pathId, d, length) => { this.batches[pathId]?.queue(d, length, this.serverAddrs, 0) },
        sendUnsealed: (pathId, d, length, key, counter) => { this.batches[pathId]?.queueUnsealed(d, length, this.serverAddrs, 0, key, counter) },
        slotFor: (pathId, length) => this.batches[pathId]?.slotFor(length),
        commitUnsealed: (pathId, length, key, counter) => { this.batches[pathId]!.commitUnsealed(length, this.serverAddrs, 0, key, counter) },
        deliver: (packet, offset, length) => { this.tunBatch.queue(packet, offset, length) },
      }, {
        scheduler: options.scheduler ?? 'auto',
        pacing: options.pacing === true,
        ...(options.equalDelay !== undefined ? { equalDelay: options.equalDelay } : {}),
        mtuBytes: this.mtuBytes,
        fixedMtu: options.tun.mtuBytes !== undefined,
        onInnerMtu: (mtu) => this.onInnerMtu(mtu),
        probeIntervalMs: this.tunables.probeIntervalMs,
        downFloorMs: this.tunables.downFloorMs,
        traceHoles: this.tunables.traceHoles,
        log: this.log,
        label: 'server',
      }, options.paths.map((p, id) => ({
        id,
        name: pathName(p, this.serverText),
        isIpv6: options.server.address.includes(':'),
        ...(p.preference ? { preference: p.preference } : {}),
        ...(p.txCapBitsPerSec ? { txCapBitsPerSec: p.txCapBitsPerSec } : {}),
        ...(p.weight ? { weight: p.weight } : {}),
      })))
      options.paths.forEach((p, id) => {
        const socket = UdpSocket.open({ address: p.localAddress, coalesce: true })
        this.sockets.push(socket)
        steerPath(socket.fd, p)
        // Bursts from a fast TUN must not overflow the kernel's default buffers (about 200 KiB).
        setBufferSize(socket.fd, 'receive', UDP_BUFFER_BYTES)
        setBufferSize(socket.fd, 'send', UDP_BUFFER_BYTES)
        // DF on every datagram: the path MTU is found by our own probes, never by fragmenting.
        setMtuDiscover(socket.fd, 'do')
        socket.onBatch((count) => this.onUdpBatch(socket, id, count))
        this.batches.push(new SendBatch(socket, this.mtuBytes + 256))
      })
    } catch (err) {
      this.close()
      throw err
    }
  }

  get tunName (): string { return this.tun.name }

  start (): void {
    for (const s of this.sockets) s.start()
    this.tun.start()
    const gate = this.tickGate = new TickGate(this.tunables.tickMs, this.clock, () => this.tick())
    this.timer = setInterval(() => gate.fire(), this.tunables.tickMs)
    gate.run()
  }

  /** Resolves once a session is up. */
  async untilUp (timeoutMs = 10_000): Promise<void> {
    const deadline = this.clock.now() + timeoutMs
    while (this.peer.session === undefined) {
      if (this.clock.now() > deadline) throw new Error(`no session with the server after ${timeoutMs} ms`)
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /** One line of counters, for the log at shutdown and for debugging. */
  summary (): string {
    const c = this.peer.counters
    const udp = this.sockets.map((s) => s.stats())
    const tun = this.tun.stats()
    return `tx ${c.txPackets} rx ${c.rxPackets} refused ${c.refused} repairs ${c.repairs} reorder ${JSON.stringify(this.peer.reorder.stats)} wait ${JSON.stringify(this.peer.waitStats)} ${this.peer.sendSummary} ` +
      `udp ${JSON.stringify(udp)} tun ${JSON.stringify(tun)} paths ${this.peer.active.map((p) => `${p.name}:${p.state}:${p.rtt.srttMs.toFixed(1)}ms:downs=${p.counters.downEvents},silence=${p.counters.silenceDowns}`).join(' ')} errors ${JSON.stringify(this.stats.errors)}`
  }

  close (): void {
    this.closed = true
    if (this.timer !== undefined) this.log.info(`ttt client closing: ${this.summary()}`)
    if (this.peer?.session !== undefined && this.timer !== undefined) {
      this.peer.sendClose(CloseReason.Shutdown)
      this.flush()
    }
    clearInterval(this.timer)
    this.tickGate?.cancel()
    clearTimeout(this.paceTimer)
    // What waits to be sealed goes out now: wiping the session below must find nothing to send.
    for (const batch of this.batches) batch.flush()
    if (this.peer?.session) this.peer.session.beforeSendKeyChange = undefined
    for (const s of this.sockets) s.close()
    this.tun?.close()
    this.peer?.session?.wipe()
  }

  /** A path's local end for `show`: `address:port`, then `%device` when it is bound to one. */
  private localEndpointText (pathId: number): string {
    const spec = this.options.paths[pathId]
    const endpoint = endpointText(spec?.localAddress ?? '?', this.sockets[pathId]?.port ?? 0)
    return spec?.device === undefined ? endpoint : `${endpoint}%${spec.device}`
  }

  /** The session and its paths, for `show`. */
  peerSnapshot (): VpnPeerSnapshot {
    const server = this.serverText
    return snapshotPeer(this.peer, String(this.peer.session?.localIndex ?? '-'), server, this.sessionSinceMs, (pathId) => ({
      local: this.localEndpointText(pathId),
      remote: server,
    }))
  }

  // ---- runtime changes (`gst path`, `gst set`): applied in place, nothing is dropped

  /** Changes path `pathId` (as `show` numbers it); throws a bad-argument error for an unknown one. */
  setPath (pathId: number, change: PathChange): string {
    return applyPathChange(this.peer, pathId, change, this.clock.now())
  }

  /** Switches the scheduler; packets already sent are unaffected. */
  setScheduler (kind: SchedulerKind): void {
    this.peer.setScheduler(kind)
  }

  /** Key rotation interval from now on: the next rotation is due that long after the last one. */
  setRekeyInterval (ms: number): void {
    if (!(ms >= 100) || ms >= this.tunables.maxKeyAgeMs) throw new UsageError(`rekey must be from 0.1 to under ${this.tunables.maxKeyAgeMs / 1000} seconds (the key age limit)`)
    this.tunables.rekeyIntervalMs = ms
    this.peer.session?.rekeyIntervalChanged()
  }

  private sessionSinceMs = 0

  snapshot (): VpnClientStats {
    return { ...this.stats, state: this.peer.session ? 'up' : 'handshaking', rekeys: this.closedRotations + (this.peer.session?.rotations ?? 0) }
  }

  private count (kind: string, detail: string): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = this.serverText
    entry.lastAtMs = this.clock.now()
    const suppressed = this.logLimiter.admit(kind, this.clock.now())
    if (suppressed >= 0) this.log.warn(`${detail}${suppressed ? ` (${suppressed} more not shown)` : ''}`)
  }

  private onInnerMtu (mtu: number): void {
    if (mtu === this.currentTunMtu) return
    this.log.info(`path MTU: inner MTU ${mtu} (TUN ${this.tun.name} was ${this.currentTunMtu})`)
    this.currentTunMtu = mtu
    this.tun.setMtu(mtu)
  }

  private currentTunMtu = 0

  private tunViews: Uint8Array[] | undefined

  private onTunBatch (count: number): void {
    const now = this.clock.now()
    const { arena, lengths, slotBytes } = this.tun
    // Views of the read slots, at most an inner packet long, made once: the peer copies one whole
    // into its repair slab instead of making a view of each packet.
    const views = this.tunViews ??= Array.from(lengths, (_, i) => arena.subarray(i * slotBytes, i * slotBytes + Math.min(slotBytes, this.mtuBytes)))
    for (let i = 0; i < count; i++) this.peer.sendInner(views[i]!, 0, lengths[i]!, now)
    this.flush()
  }

  private flush (): void {
    this.armPacing(this.peer.releasePaced(this.clock.now()))
    for (const batch of this.batches) batch.flush()
    this.tunBatch.flush()
  }

  private paceTimer: NodeJS.Timeout | undefined
  private paceAtMs = Infinity

  /** Wakes up for the next paced release when it comes before the next tick. */
  private armPacing (nextMs: number): void {
    if (!(nextMs < this.paceAtMs) || !Number.isFinite(nextMs)) return
    clearTimeout(this.paceTimer)
    this.paceAtMs = nextMs
    this.paceTimer = setTimeout(() => {
      this.paceAtMs = Infinity
      this.flush()
    }, Math.max(0, nextMs - this.clock.now()))
  }

  private onUdpBatch (socket: UdpSocket, pathId: number, count: number): void {
    const now = this.clock.now()
    const { arena, lengths, offsets, addrs } = socket
    const buf = Buffer.from(arena.buffer, arena.byteOffset, arena.byteLength)
    // Open every sealed datagram of the batch first, with one addon call per receiving key.
    const opener = this.opener ??= new BatchOpener(socket.lengths.length)
    opener.begin(count)
    const session = this.peer.session
    for (let i = 0; i < count && session !== undefined; i++) {
      const at = offsets[i]!
      if (lengths[i]! < 6 || buf[at] !== DatagramType.Sealed || buf.readUInt32BE(at + 2) !== session.localIndex || !sameAddress(addrs, i, this.serverAddrs)) continue
      const rx = session.receiveKeyFor(buf[at + 1]!, lengths[i]!, now)
      if (typeof rx !== 'string') opener.add(i, readSealedCounter(buf, at), rx)
    }
    opener.openAll(arena, offsets, lengths)
    for (let i = 0; i < count; i++) {
      if (!sameAddress(addrs, i, this.serverAddrs)) { this.count('stranger', 'datagram from an address that is not the server: dropped'); continue }
      // Datagram i is buf[at, at + length): sealed ones are handled in place, without a view each.
      const at = offsets[i]!
      const length = lengths[i]!
      const type = length > 0 ? buf[at] : undefined
      try {
        if (type === DatagramType.Sealed) this.onSealed(buf, at, length, i, now)
        else if (type === DatagramType.Response) this.onResponse(buf.subarray(at, at + length), pathId, now)
        else if (type === DatagramType.CookieReply) this.onCookieReply(buf.subarray(at, at + length), pathId, now)
        else this.count('malformed', `malformed datagram (type ${type}) on path ${pathId}: dropped`)
      } catch (err) {
        this.count('malformed', `datagram on path ${pathId} dropped after an internal error (${(err as Error).message})`)
      }
    }
    this.flush()
  }

  /** The sealed datagram buf[start, start + length), from receive slot `slot`. */
  private onSealed (buf: Buffer, start: number, length: number, slot: number, now: number): void {
    const session = this.peer.session
    if (session === undefined || length < 6 || buf.readUInt32BE(start + 2) !== session.localIndex) {
      this.count('unknown-session', 'datagram for an unknown session: dropped')
      return
    }
    const result = this.opener!.result(slot, session, buf, start, length, now)
    if (result !== 'ok') { this.count(result, `datagram failed: ${result}`); return }
    if (this.peer.onMessage(buf, length, now, start) >= 0) this.lastHeardMs = now
    if (this.peer.closedByPeer) this.onServerClose(now)
  }

  /**
   * The server ended our session (it shut down, or took our key off its peer list): say why once and
   * handshake again on the usual retry schedule (the server may come back, or list the key again).
   */
  private onServerClose (now: number): void {
    const reason = this.peer.closeReason
    this.peer.closedByPeer = false
    this.lastHeardMs = -Infinity
    this.pendingSentMs = Math.min(this.pendingSentMs, now - this.tunables.handshakeRetryMs)
    const why = reason === CloseReason.Removed ? 'our key is no longer in its peer list' : reason === CloseReason.Shutdown ? 'it is shutting down' : `reason ${reason}`
    const suppressed = this.logLimiter.admit('server-close', now)
    if (suppressed >= 0) this.log.warn(`server ${this.serverText} closed the session: ${why}; handshaking again every ${this.tunables.handshakeRetryMs / 1000} s`)
  }

  private onResponse (d: Buffer, pathId: number, now: number): void {
    const pending = this.recentInit(responseReceiverIndex(d), now)
    if (pending === undefined) { this.count('handshake', 'unexpected handshake response: dropped'); return }
    const done = pending.finish(d)
    if (done === null) { this.count('handshake', 'handshake response did not authenticate (wrong key?)'); return }
    this.pending = undefined
    this.recentInits = []
    const old = this.peer.session
    if (old) { this.closedRotations += old.rotations; old.wipe() }
    this.peer.startSession(new VpnSession(done.secrets, true, pending.senderIndex, done.remoteIndex, this.options.key, this.tunables, now), now, pathId)
    // Datagrams waiting to be sealed with a key are sealed and sent before it changes.
    this.peer.session!.beforeSendKeyChange = () => { for (const batch of this.batches) batch.flush() }
    this.lastHeardMs = now
    this.sessionSinceMs = now
    this.stats.handshakes++
    const silentMs = this.silence.noteAnswered(now)
    this.log.info(`session with ${this.serverText} up (path ${pathId})${silentMs !== undefined ? `, after ${Math.round(silentMs / 1000)} s without an answer` : ''}`)
  }

  /**
   * The server is under load and wants proof of our address first: keep its cookie for this path
   * and send the INIT again at once, now with mac2. Once per cookie: a server that refuses a
   * fresh cookie is not answered faster than the retry timer.
   */
  private onCookieReply (d: Buffer, pathId: number, now: number): void {
    const answered = this.recentInit(cookieReplyReceiverIndex(d), now)
    const pending = this.pending
    if (answered === undefined || pending === undefined || answered.pathId !== pathId) { this.count('handshake', 'unexpected cookie reply: dropped'); return }
    if (!answered.acceptCookie(d, this.options.key, this.cookieJar, now)) { this.count('handshake', 'cookie reply did not authenticate (wrong key?)'); return }
    this.stats.cookieReplies++
    this.silence.noteAnswered(now)   // the server is there, only busy
    const suppressed = this.logLimiter.admit('cookie', now)
    if (suppressed >= 0) this.log.info(`server ${this.serverText} is under handshake load: proving our address on path ${pathId} with its cookie`)
    const cookie = this.cookieJar.cookie(pathId, now)
    if (pending.pathId !== pathId || pending.cookie === undefined || (cookie !== undefined && !cookie.equals(pending.cookie))) this.sendHandshake(now, pathId)
  }

  /** The INIT with sender index `index` sent within the last 5 s (one retry interval is not enough under a flood). */
  private recentInit (index: number, now: number): InitHandshake | undefined {
    this.recentInits = this.recentInits.filter((r) => now - r.sentMs < 5000)
    return this.recentInits.find((r) => r.init.senderIndex === index)?.init
  }

  private tick (): void {
    const now = this.clock.now()
    const session = this.peer.session
    const needsHandshake = session === undefined || !session.isUsable(now) || now - this.lastHeardMs > this.tunables.deadSessionMs
    if (needsHandshake && now - this.pendingSentMs >= this.tunables.handshakeRetryMs) this.sendHandshake(now)
    this.peer.tick(now)
    this.flush()
    this.logPathChanges(now)
    if (this.tun.isDetached && !this.fatalReported) {
      this.fatalReported = true
      this.options.onFatal?.(`TUN ${this.tun.name} is gone (removed under us, e.g. ip link del): nothing can pass any more`)
    }
  }

  private fatalReported = false
  /** Which path changes get a line: each at once, a flapping path's summed up once per 30 s. */
  private readonly pathChangeLog = new PathChangeLog(PATH_FLAP_WINDOW_S * 1000)

  private logPathChanges (now: number): void {
    for (const path of this.peer.active) {
      const line = this.pathChangeLog.observe(path.id, path.state, now)
      if (line === undefined) continue
      if (line.kind === 'down') this.log.warn(`path ${path.name} down (no replies, or set down): its traffic goes over the other paths`)
      else if (line.kind === 'up') this.log.info(`path ${path.name} ${line.state} again`)
      else this.log.warn(`path ${path.name} is flapping: down ${line.downs} more time(s) and back ${line.ups} in the last ${PATH_FLAP_WINDOW_S} s (not logged one by one); now ${line.state}`)
    }
  }

  /** A new INIT on `pathId` (default: the next path in turn), with mac2 when we hold a cookie for it. */
  private sendHandshake (now: number, pathId = this.nextHandshakePath++ % this.sockets.length): void {
    this.pending = new InitHandshake(this.options.key, randomInt(1, 0xffffffff), {
      timestamp: this.timestamps.next(),
      clientId: this.clientId,
      pathId,
    }, this.cookieJar.cookie(pathId, now))
    this.pendingSentMs = now
    const silence = this.silence.noteSent(now)
    if (silence !== undefined) {
      this.lookUpServerAgain()
      const seconds = Math.round(silence.silentMs / 1000)
      this.log.warn(silence.answeredBefore
        ? `server ${this.serverText} silent for ${seconds} s (${silence.unanswered} handshakes unanswered): it is down, unreachable, or no longer has this client's key; trying again every ${this.tunables.handshakeRetryMs / 1000} s`
        : `no answer from ${this.serverText} to ${silence.unanswered} handshakes in ${seconds} s: is ttt server running there, reachable over UDP from this client's path(s), and does it have this client's key? (a server answers nothing to a key it does not know)`)
    }
    this.recentInits.push({ init: this.pending, sentMs: now })
    if (this.recentInits.length > 16) this.recentInits.shift()
    this.sockets[pathId]!.sendTo(this.pending.datagram, this.pending.datagram.length, this.serverAddrs, 0)
  }

  private lookingUp = false
  private closed = false

  /** The server's address and port as now used (it follows --server's name, see resolveServer). */
  get serverEndpoint (): string { return this.serverText }

  /** Looks the server's name up again; a new address (same family as our paths) is used at once. */
  private lookUpServerAgain (): void {
    const resolve = this.options.resolveServer
    if (resolve === undefined || this.lookingUp) return
    this.lookingUp = true
    resolve.lookup().then((found) => {
      this.lookingUp = false
      if (this.closed) return
      const text = endpointText(found.address, found.port)
      if (text === this.serverText) return
      if (found.address.includes(':') !== this.options.server.address.includes(':')) {
        this.log.warn(`${resolve.name} now resolves to ${text}, another address family than this client's paths (bound for ${this.options.server.address}): not used; restart ttt client to follow it`)
        return
      }
      this.log.warn(`${resolve.name} now resolves to ${text} (was ${this.serverText}): handshaking there`)
      encodeAddress(found.address, found.port, this.serverAddrs, 0)
      this.serverText = text
      this.options.paths.forEach((p, id) => { const path = this.peer.path(id); if (path) path.name = pathName(p, text) })
      this.pendingSentMs = -Infinity   // the next tick handshakes
    }, (err: Error) => {
      this.lookingUp = false
      this.log.warn(`could not look up ${resolve.name} again: ${err.message}; still trying ${this.serverText}`)
    })
  }
}

/** Whether the peer half of slot `index` is `expected` (the local half does not matter). */
function sameAddress (addrs: Uint8Array, index: number, expected: Uint8Array): boolean {
  const at = index * ADDR_BYTES
  for (let i = 0; i < PEER_ADDR_BYTES; i++) if (addrs[at + i] !== expected[i]) return false
  return true
}
