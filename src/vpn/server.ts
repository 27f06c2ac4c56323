/**
 * ttt server: one UDP port for every client, one TUN device. Clients are told apart by the
 * session index in each datagram, never by address, so NAT rebinding and roaming just work: a
 * path's address is whatever its last authenticated datagram came from. Packets read from the
 * TUN go to the client that owns their destination address (configured prefixes, or the inner
 * source addresses a client has used).
 */
import { randomInt } from 'node:crypto'
import { type TunDevice, UdpSocket, setBufferSize, setMtuDiscover, encodeAddress, decodeAddress, ADDR_BYTES } from '../native/index.js'
import { HandshakeReplayGuard } from '../crypto/handshake-guard.js'
import { RateLimiter } from '../crypto/rate-limiter.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import type { SchedulerKind } from '../multipath/index.js'
import { Peer } from './peer.js'
import { UsageError } from '../errors.js'
import { applyPathChange, type PathChange } from './runtime.js'
import { SendBatch } from './send-batch.js'
import { TunWriteBatch } from './tun-write-batch.js'
import { snapshotPeer, type VpnPeerSnapshot } from './snapshot.js'
import { openTun } from './interface-config.js'
import { VpnSession } from './session.js'
import { readInit, writeResponse } from './handshake.js'
import { DatagramType, MessageKind, SEALED_HEADER_BYTES, DATA_HEADER_BYTES } from './wire.js'
import { DEFAULT_INNER_MTU, DEFAULT_VPN_TUNABLES, UDP_BUFFER_BYTES, type VpnTunables } from './client.js'
import { ipVersionOf, ipv4Destination, ipv4Source, ipv6Key, parsePrefix, prefixContainsV4, prefixContainsV6, type Prefix } from './inner-address.js'

export interface ServerPeerConfig {
  name: string
  key: Uint8Array
  /** Inner prefixes this client may use as source and receives traffic for. Empty: learned. */
  allowedIps: string[]
}

export interface VpnServerOptions {
  listen: { address: string, port: number }
  /** Clients: each key names one client (or a group sharing it). */
  peers: ServerPeerConfig[]
  tun: { name?: string, addresses?: string[], mtuBytes?: number }
  scheduler?: SchedulerKind
  pacing?: boolean
  tunables?: Partial<VpnTunables>
  maxClients?: number
  log?: Logger
  clock?: Clock
}

interface RemoteClient {
  id: string
  config: ServerPeerConfig
  allowed: Prefix[]
  peer: Peer
  /** Address of each path id, in the socket's address-slot format. */
  readonly addrs: Uint8Array
  sessionIndex: number
  learnedV4: Set<number>
  /** Inner MTU all of this client's paths carry (0 until known). */
  innerMtu: number
  /** When the current session started (monotonic ms). */
  sinceMs: number
  /** Last authenticated datagram (monotonic ms). */
  lastHeardMs: number
}

export interface VpnServerStats {
  clients: number
  handshakes: number
  errors: Record<string, { count: number, lastSource: string, lastAtMs: number }>
}

export class VpnServer {
  readonly tun: TunDevice
  readonly socket: UdpSocket
  private readonly batch: SendBatch
  private readonly tunBatch: TunWriteBatch
  private readonly tunables: VpnTunables
  private readonly log: Logger
  private readonly clock: Clock
  private readonly guard = new HandshakeReplayGuard()
  private readonly limiter = new RateLimiter({ perSecond: 20, burst: 40 })
  private readonly logLimiter = new LogLimiter()
  private readonly keys: Uint8Array[]
  private readonly clients = new Map<string, RemoteClient>()
  private readonly byIndex = new Map<number, RemoteClient>()
  private readonly routesV4 = new Map<number, RemoteClient>()
  private readonly routesV6 = new Map<string, RemoteClient>()
  private readonly mtuBytes: number
  private timer: NodeJS.Timeout | undefined
  readonly stats: VpnServerStats = { clients: 0, handshakes: 0, errors: {} }

  constructor (private readonly options: VpnServerOptions) {
    if (options.peers.length === 0) throw new Error('a server needs at least one key')
    this.tunables = { ...DEFAULT_VPN_TUNABLES, ...options.tunables }
    this.log = options.log ?? silentLogger
    this.clock = options.clock ?? monotonicClock
    this.keys = options.peers.map((p) => p.key)
    this.mtuBytes = options.tun.mtuBytes ?? DEFAULT_INNER_MTU
    this.currentTunMtu = this.mtuBytes
    this.tun = openTun(options.tun, this.mtuBytes, (count) => this.onTunBatch(count))
    this.tunBatch = new TunWriteBatch(this.tun, this.tun.slotBytes)
    try {
      this.socket = UdpSocket.open({ address: options.listen.address, port: options.listen.port, coalesce: true })
    } catch (err) {
      this.tun.close()
      throw err
    }
    setBufferSize(this.socket.fd, 'receive', UDP_BUFFER_BYTES)
    setBufferSize(this.socket.fd, 'send', UDP_BUFFER_BYTES)
    setMtuDiscover(this.socket.fd, 'do')
    this.batch = new SendBatch(this.socket, this.mtuBytes + 256)
    this.socket.onBatch((count) => this.onUdpBatch(count))
  }

  get port (): number { return this.socket.port }
  get tunName (): string { return this.tun.name }

  start (): void {
    this.socket.start()
    this.tun.start()
    this.timer = setInterval(() => this.tick(), this.tunables.tickMs)
    this.log.info(`ttt server listening on ${this.options.listen.address}:${this.socket.port}, TUN ${this.tun.name}`)
  }

  summary (): string {
    const peers = [...this.clients.values()].map((c) => `${c.config.name}: tx ${c.peer.counters.txPackets} rx ${c.peer.counters.rxPackets} refused ${c.peer.counters.refused} repairs ${c.peer.counters.repairs} reorder ${JSON.stringify(c.peer.reorder.stats)}`)
    return `udp ${JSON.stringify(this.socket.stats())} tun ${JSON.stringify(this.tun.stats())} no-route ${this.noRoute} errors ${JSON.stringify(this.stats.errors)} ${peers.join('; ')}`
  }

  close (): void {
    if (this.timer !== undefined) this.log.info(`ttt server closing: ${this.summary()}`)
    clearInterval(this.timer)
    clearTimeout(this.paceTimer)
    this.socket.close()
    this.tun.close()
    for (const c of this.clients.values()) c.peer.session?.wipe()
  }

  /** Every client's session and paths, for `show`. */
  peerSnapshots (): VpnPeerSnapshot[] {
    const local = `${this.options.listen.address}:${this.socket.port}`
    return [...this.clients.values()].map((c) => snapshotPeer(c.peer, String(c.sessionIndex), c.config.name, c.sinceMs, (pathId) => {
      const { address, port } = decodeAddress(c.addrs, pathId)
      return { local, remote: address.includes(':') ? `[${address}]:${port}` : `${address}:${port}` }
    }))
  }

  // ---- runtime changes (`gst path`, `gst set`): applied in place, nothing is dropped

  /**
   * Changes path `pathId` of the client whose session id (as `show` prints it) is `sessionId`;
   * without one, of the only client. Throws a bad-argument error when there is no such path.
   */
  setPath (sessionId: string | undefined, pathId: number, change: PathChange): string {
    let client: RemoteClient | undefined
    if (sessionId !== undefined) {
      client = [...this.clients.values()].find((c) => String(c.sessionIndex) === sessionId)
      if (client === undefined) throw new UsageError(`no session ${sessionId} (see gst show)`)
    } else {
      if (this.clients.size !== 1) throw new UsageError(this.clients.size === 0 ? 'no client is connected' : `${this.clients.size} clients are connected: name the path as SESSION/${pathId} (see gst show)`)
      client = [...this.clients.values()][0]!
    }
    return `client ${client.config.name}: ${applyPathChange(client.peer, pathId, change, this.clock.now())}`
  }

  /** Switches the scheduler of every client, and of clients to come. */
  setScheduler (kind: SchedulerKind): void {
    this.runtimeScheduler = kind
    for (const c of this.clients.values()) c.peer.setScheduler(kind)
  }

  private runtimeScheduler: SchedulerKind | undefined

  /** Every connected client's peer, for `show` and tests. */
  get peers (): Peer[] { return [...this.clients.values()].map((c) => c.peer) }

  private count (kind: string, source: string, detail: string): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = source
    entry.lastAtMs = this.clock.now()
    const suppressed = this.logLimiter.admit(`${kind} ${source.replace(/:\d+$/, '')}`, this.clock.now())
    if (suppressed >= 0) this.log.warn(`${detail} from ${source}${suppressed ? ` (${suppressed} more not shown)` : ''}`)
  }

  private onTunBatch (count: number): void {
    const now = this.clock.now()
    const { arena, lengths, slotBytes } = this.tun
    for (let i = 0; i < count; i++) {
      const at = i * slotBytes
      const length = lengths[i]!
      const client = this.route(arena, at, length)
      if (client === undefined) { this.countNoRoute(); continue }
      client.peer.sendInner(arena, at, length, now)
    }
    this.flush()
  }

  private paceTimer: NodeJS.Timeout | undefined
  private paceAtMs = Infinity

  /** Releases paced datagrams that are due, sends the batch, and wakes up for the next release. */
  private flush (): void {
    const now = this.clock.now()
    let next = Infinity
    for (const client of this.clients.values()) next = Math.min(next, client.peer.releasePaced(now))
    this.batch.flush()
    this.tunBatch.flush()
    if (!(next < this.paceAtMs) || !Number.isFinite(next)) return
    clearTimeout(this.paceTimer)
    this.paceAtMs = next
    this.paceTimer = setTimeout(() => {
      this.paceAtMs = Infinity
      this.flush()
    }, Math.max(0, next - now))
  }

  private noRoute = 0
  private countNoRoute (): void {
    this.noRoute++
    const suppressed = this.logLimiter.admit('no-route', this.clock.now())
    if (suppressed >= 0) this.log.debug(`packet from the TUN for an address no client owns: dropped (${this.noRoute} so far)`)
  }

  private route (packet: Uint8Array, at: number, length: number): RemoteClient | undefined {
    const version = ipVersionOf(packet, at)
    if (version === 4 && length >= 20) {
      const dst = ipv4Destination(packet, at)
      const learned = this.routesV4.get(dst)
      if (learned) return learned
      for (const c of this.clients.values()) for (const p of c.allowed) if (prefixContainsV4(p, dst)) return c
    } else if (version === 6 && length >= 40) {
      const learned = this.routesV6.get(ipv6Key(packet, at, 'destination'))
      if (learned) return learned
      for (const c of this.clients.values()) for (const p of c.allowed) if (prefixContainsV6(p, packet, at + 24)) return c
    }
    return undefined
  }

  private onUdpBatch (count: number): void {
    const now = this.clock.now()
    const { arena, lengths, offsets, addrs } = this.socket
    const buf = Buffer.from(arena.buffer, arena.byteOffset, arena.byteLength)
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!
      const d = buf.subarray(at, at + lengths[i]!)
      const type = d[0]
      try {
        if (type === DatagramType.Sealed && d.length >= 6) this.onSealed(d, i, now)
        else if (type === DatagramType.Init) this.onInit(d, i, now)
        else this.count('malformed', sourceOf(addrs, i), `malformed datagram (type ${type ?? 'none'}, ${d.length} bytes)`)
      } catch (err) {
        // A bug must cost one datagram, never the server (and every other client with it).
        this.count('malformed', sourceOf(addrs, i), `datagram dropped after an internal error (${(err as Error).message})`)
      }
    }
    this.flush()
  }

  private onInit (d: Buffer, slot: number, now: number): void {
    const source = sourceOf(this.socket.addrs, slot)
    const host = source.replace(/:\d+$/, '')
    if (!this.limiter.allow(host, now)) { this.count('limit', source, 'handshake rate limit'); return }
    const decision = readInit(this.keys, d)
    if (!decision.ok) { this.count('handshake', source, `handshake failed: ${decision.reason}`); return }
    const { payload, response, senderIndex } = decision
    if (!this.guard.accept(payload.clientId, payload.timestamp)) { this.count('replay', source, 'replayed handshake'); return }
    const id = payload.clientId.toString('hex')
    let client = this.clients.get(id)
    if (client === undefined) {
      if (this.clients.size >= (this.options.maxClients ?? 10_000)) { this.count('limit', source, 'client limit reached'); return }
      const config = this.options.peers[response.keyIndex]!
      client = this.newClient(id, config)
    }
    let localIndex = randomInt(1, 0xffffffff)
    while (this.byIndex.has(localIndex)) localIndex = randomInt(1, 0xffffffff)
    const { datagram, secrets } = writeResponse(response, localIndex, senderIndex)
    const old = client.peer.session
    if (old !== undefined) { old.wipe(); this.byIndex.delete(client.sessionIndex) }
    client.peer.session = new VpnSession(secrets, false, localIndex, senderIndex, client.config.key, this.tunables, now)
    client.sessionIndex = localIndex
    client.sinceMs = now
    client.lastHeardMs = now
    this.byIndex.set(localIndex, client)
    this.notePath(client, payload.pathId, slot)
    this.socket.sendTo(datagram, datagram.length, this.socket.addrs, slot)
    this.stats.handshakes++
    this.log.info(`client ${client.config.name} (${id.slice(0, 8)}) session up from ${source}`)
  }

  private newClient (id: string, config: ServerPeerConfig): RemoteClient {
    const addrs = new Uint8Array(ADDR_BYTES * 256)
    const client: RemoteClient = {
      id, config, addrs, sessionIndex: 0, learnedV4: new Set(), innerMtu: 0, sinceMs: 0, lastHeardMs: 0,
      allowed: config.allowedIps.map(parsePrefix),
      peer: new Peer({
        send: (pathId, datagram, length) => { this.batch.queue(datagram, length, addrs, pathId) },
        deliver: (packet, offset, length) => { this.tunBatch.queue(packet, offset, length) },
      }, {
        scheduler: this.runtimeScheduler ?? this.options.scheduler ?? 'auto',
        pacing: this.options.pacing === true,
        mtuBytes: this.mtuBytes,
        fixedMtu: this.options.tun.mtuBytes !== undefined,
        onInnerMtu: (mtu) => this.onInnerMtu(client, mtu),
        probeIntervalMs: this.tunables.probeIntervalMs,
        downFloorMs: this.tunables.downFloorMs,
        log: this.log,
      }),
    }
    this.clients.set(id, client)
    this.stats.clients = this.clients.size
    return client
  }

  /** Learns or updates the address of `pathId` from the datagram in receive slot `slot`. */
  private notePath (client: RemoteClient, pathId: number, slot: number): void {
    const from = this.socket.addrs
    const at = pathId * ADDR_BYTES
    const src = slot * ADDR_BYTES
    let same = client.peer.path(pathId) !== undefined
    for (let i = 0; same && i < ADDR_BYTES; i++) if (client.addrs[at + i] !== from[src + i]) same = false
    if (same) return
    const known = client.peer.path(pathId) !== undefined
    client.addrs.set(from.subarray(src, src + ADDR_BYTES), at)
    const source = sourceOf(from, slot)
    if (!known) {
      client.peer.addPath({ id: pathId, name: `path ${pathId} ${source}`, isIpv6: from[src] === 6 })
      this.log.info(`client ${client.config.name}: path ${pathId} from ${source}`)
    } else {
      this.log.info(`client ${client.config.name}: path ${pathId} moved to ${source}`)
    }
  }

  /** The TUN is shared by every client: its MTU is the smallest any client's paths carry. */
  private onInnerMtu (client: RemoteClient, mtu: number): void {
    client.innerMtu = mtu
    let smallest = this.mtuBytes
    for (const c of this.clients.values()) if (c.innerMtu > 0 && c.innerMtu < smallest) smallest = c.innerMtu
    if (smallest === this.currentTunMtu) return
    this.log.info(`path MTU: inner MTU ${smallest} (TUN ${this.tun.name} was ${this.currentTunMtu})`)
    this.currentTunMtu = smallest
    this.tun.setMtu(smallest)
  }

  private currentTunMtu = 0

  private onSealed (d: Buffer, slot: number, now: number): void {
    const client = this.byIndex.get(d.readUInt32BE(2))
    if (client === undefined) { this.count('unknown-session', sourceOf(this.socket.addrs, slot), 'datagram for an unknown session'); return }
    const session = client.peer.session!
    const result = session.open(d, d.length, now)
    if (result !== 'ok') { this.count(result, sourceOf(this.socket.addrs, slot), `datagram failed (${result})`); return }
    const pathId = d[SEALED_HEADER_BYTES + 1]!
    this.notePath(client, pathId, slot)
    if (d[SEALED_HEADER_BYTES] === MessageKind.Data && !this.admitInnerSource(client, d)) {
      this.count('not-allowed', sourceOf(this.socket.addrs, slot), `client ${client.config.name} sent from an inner address it does not own`)
      return
    }
    client.lastHeardMs = now
    client.peer.onMessage(d, d.length, now)
    if (client.peer.closedByPeer) this.forget(client, 'closed by the client')
  }

  /** Drops a client: its session keys, its index and its learned routes. */
  private forget (client: RemoteClient, why: string): void {
    client.peer.session?.wipe()
    this.byIndex.delete(client.sessionIndex)
    this.clients.delete(client.id)
    for (const [address, owner] of this.routesV4) if (owner === client) this.routesV4.delete(address)
    for (const [address, owner] of this.routesV6) if (owner === client) this.routesV6.delete(address)
    this.stats.clients = this.clients.size
    this.log.info(`client ${client.config.name} (${client.id.slice(0, 8)}) gone: ${why}`)
  }

  /** Cryptokey routing: a client's inner source must be one of its prefixes (or, with none configured, is learned). */
  private admitInnerSource (client: RemoteClient, d: Buffer): boolean {
    const at = SEALED_HEADER_BYTES + DATA_HEADER_BYTES
    const version = ipVersionOf(d, at)
    if (version === 4 && d.length >= at + 20) {
      const src = ipv4Source(d, at)
      if (client.allowed.length > 0) return client.allowed.some((p) => prefixContainsV4(p, src))
      if (this.routesV4.get(src) !== client) this.routesV4.set(src, client)
      return true
    }
    if (version === 6 && d.length >= at + 40) {
      if (client.allowed.length > 0) return client.allowed.some((p) => prefixContainsV6(p, d, at + 8))
      const key = ipv6Key(d, at, 'source')
      if (this.routesV6.get(key) !== client) this.routesV6.set(key, client)
      return true
    }
    return false
  }

  private nextSweepMs = 0

  private tick (): void {
    const now = this.clock.now()
    if (now >= this.nextSweepMs) {
      this.nextSweepMs = now + 1000
      for (const client of this.clients.values()) {
        if (now - client.lastHeardMs > this.tunables.clientIdleMs) this.forget(client, `silent for ${Math.round((now - client.lastHeardMs) / 1000)} s`)
      }
    }
    for (const client of this.clients.values()) client.peer.tick(now)
    this.flush()
  }
}

function sourceOf (addrs: Uint8Array, slot: number): string {
  const { address, port } = decodeAddress(addrs, slot)
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`
}

export { encodeAddress }
