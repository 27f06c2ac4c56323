/**
 * ttt server: one UDP port for every client, one TUN device. Clients are told apart by the
 * session index in each datagram, never by address, so NAT rebinding and roaming just work: a
 * path's address is whatever its last authenticated datagram came from. Packets read from the
 * TUN go to the client that owns their destination address (configured prefixes, or the inner
 * source addresses a client has used).
 */
import { randomInt } from 'node:crypto'
import { sameKey } from '../crypto/key.js'
import { type TunDevice, UdpSocket, setBufferSize, setMtuDiscover, encodeAddress, decodeAddress, decodeLocalAddress, endpointText, ADDR_BYTES, ADDR_WORDS, addressWords } from '../native/index.js'
import { HandshakeReplayGuard } from '../crypto/handshake-guard.js'
import { RateLimiter } from '../crypto/rate-limiter.js'
import { CookieMaker } from '../crypto/cookie.js'
import { HandshakeLoad } from '../crypto/handshake-load.js'
import { monotonicClock, type Clock } from '../clock.js'
import { LogLimiter, silentLogger, type Logger } from '../log.js'
import type { SchedulerKind } from '../multipath/index.js'
import { Peer, type EqualDelayScope } from './peer.js'
import { UsageError } from '../errors.js'
import { applyPathChange, type PathChange } from './runtime.js'
import { SendBatch } from './send-batch.js'
import { BatchOpener } from './batch-opener.js'
import { TickGate } from './tick-gate.js'
import { TunWriteBatch } from './tun-write-batch.js'
import { snapshotPeer, type VpnPeerSnapshot } from './snapshot.js'
import { openTun } from './interface-config.js'
import { VpnSession } from './session.js'
import { readInit, writeResponse, initKeyIndex, hasValidMac2, writeCookieReply } from './handshake.js'
import { CloseReason, DatagramType, MessageKind, SEALED_HEADER_BYTES, DATA_HEADER_BYTES, readSealedCounter } from './wire.js'
import { DEFAULT_INNER_MTU, DEFAULT_VPN_TUNABLES, UDP_BUFFER_BYTES, type VpnTunables } from './client.js'
import { ipVersionOf, ipv4Destination, ipv4Source, ipv6Key, isLinkLocalSource, parsePrefix, sourceText, prefixContainsV4, prefixContainsV6, type Prefix } from './inner-address.js'

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
  /** Hold what arrives over faster paths to the slowest path's delay: TCP only, or all (see PeerOptions.equalDelay). */
  equalDelay?: EqualDelayScope
  tunables?: Partial<VpnTunables>
  maxClients?: number
  /** New clients whose session has not carried a datagram yet, at once (default 1024). */
  maxPendingClients?: number
  /** Handshake initiations per second above which only sources with a cookie get a handshake (default 100). */
  handshakeLoadPerSecond?: number
  /** Called once when the instance cannot go on (its TUN was removed); the caller shuts it down. */
  onFatal?: (reason: string) => void
  log?: Logger
  clock?: Clock
}

/** What `setPeers` did, by peer name. */
export interface PeerListChange {
  added: string[]
  removed: string[]
  /** Connected clients whose name or prefixes changed. */
  changed: string[]
  /** Connected clients whose entry is as it was. */
  kept: string[]
}

interface RemoteClient {
  id: string
  config: ServerPeerConfig
  allowed: Prefix[]
  peer: Peer
  /** Address of each path id, in the socket's address-slot format. */
  readonly addrs: Uint8Array
  /** The same bytes as Int32 words (notePath compares a slot as 10 words). */
  readonly addrWords: Int32Array
  sessionIndex: number
  learnedV4: Set<number>
  /** Inner MTU all of this client's paths carry (0 until known). */
  innerMtu: number
  /** When the current session started (monotonic ms). */
  sinceMs: number
  /** Last authenticated datagram (monotonic ms). */
  lastHeardMs: number
  /** False from the INIT that created it until its first authenticated datagram. */
  confirmed: boolean
}

/** Our choice: a new client must use its session within this long, or it is forgotten. */
export const PENDING_CLIENT_TIMEOUT_MS = 10_000

export interface VpnServerStats {
  clients: number
  handshakes: number
  /** INITs answered with a cookie reply instead of a handshake (under load). */
  cookieReplies: number
  /** Times the server went under handshake load. */
  loadEpisodes: number
  errors: Record<string, { count: number, lastSource: string, lastAtMs: number }>
}

export class VpnServer {
  readonly tun: TunDevice
  readonly socket: UdpSocket
  /** The socket's address slots as Int32 words (notePath compares a slot as 10 words). */
  private readonly socketAddrWords: Int32Array
  private readonly batch: SendBatch
  private readonly tunBatch: TunWriteBatch
  private readonly opener: BatchOpener
  private readonly tunables: VpnTunables
  private readonly log: Logger
  private readonly clock: Clock
  private readonly guard = new HandshakeReplayGuard()
  private readonly limiter = new RateLimiter({ perSecond: 20, burst: 40 })
  private readonly cookies: CookieMaker
  private readonly load: HandshakeLoad
  private underLoad = false
  private pendingClients = 0
  private readonly logLimiter = new LogLimiter()
  private peerConfigs: ServerPeerConfig[]
  private keys: Uint8Array[]
  private readonly clients = new Map<string, RemoteClient>()
  private readonly byIndex = new Map<number, RemoteClient>()
  private readonly routesV4 = new Map<number, RemoteClient>()
  private readonly routesV6 = new Map<string, RemoteClient>()
  private readonly mtuBytes: number
  private timer: NodeJS.Timeout | undefined
  /** A late tick reads the sockets once more before judging paths (see TickGate). */
  private tickGate: TickGate | undefined
  readonly stats: VpnServerStats = { clients: 0, handshakes: 0, cookieReplies: 0, loadEpisodes: 0, errors: {} }

  constructor (private readonly options: VpnServerOptions) {
    if (options.peers.length === 0) throw new Error('a server needs at least one key')
    this.tunables = { ...DEFAULT_VPN_TUNABLES, ...options.tunables }
    this.log = options.log ?? silentLogger
    this.clock = options.clock ?? monotonicClock
    this.peerConfigs = options.peers
    this.keys = options.peers.map((p) => p.key)
    this.cookies = new CookieMaker(this.clock.now())
    this.load = new HandshakeLoad({ thresholdPerSecond: options.handshakeLoadPerSecond })
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
    this.socketAddrWords = addressWords(this.socket.addrs)!
    this.batch = new SendBatch(this.socket, this.mtuBytes + 256)
    this.opener = new BatchOpener(this.socket.lengths.length)
    this.socket.onBatch((count) => this.onUdpBatch(count))
  }

  get port (): number { return this.socket.port }
  get tunName (): string { return this.tun.name }

  start (): void {
    this.socket.start()
    this.tun.start()
    const gate = this.tickGate = new TickGate(this.tunables.tickMs, this.clock, () => this.tick())
    this.timer = setInterval(() => gate.fire(), this.tunables.tickMs)
    this.log.info(`ttt server listening on ${endpointText(this.options.listen.address, this.socket.port)}, TUN ${this.tun.name}`)
  }

  summary (): string {
    const peers = [...this.clients.values()].map((c) => `${c.config.name}: tx ${c.peer.counters.txPackets} rx ${c.peer.counters.rxPackets} refused ${c.peer.counters.refused} repairs ${c.peer.counters.repairs} reorder ${JSON.stringify(c.peer.reorder.stats)} wait ${JSON.stringify(c.peer.waitStats)} ${c.peer.sendSummary}`)
    return `udp ${JSON.stringify(this.socket.stats())} tun ${JSON.stringify(this.tun.stats())} no-route ${this.noRoute} errors ${JSON.stringify(this.stats.errors)} ${peers.join('; ')}`
  }

  close (): void {
    if (this.timer !== undefined) this.log.info(`ttt server closing: ${this.summary()}`)
    clearInterval(this.timer)
    this.tickGate?.cancel()
    clearTimeout(this.paceTimer)
    // Clients are told, so that they handshake again at once when a server comes back.
    if (this.timer !== undefined) for (const c of this.clients.values()) if (c.peer.session) c.peer.sendClose(CloseReason.Shutdown)
    // What waits to be sealed goes out now: wiping a session below must find nothing to send.
    this.batch.flush()
    for (const c of this.clients.values()) if (c.peer.session) c.peer.session.beforeSendKeyChange = undefined
    this.socket.close()
    this.tun.close()
    for (const c of this.clients.values()) c.peer.session?.wipe()
    this.cookies.wipe()
  }

  /** Every client's session and paths, for `show`. */
  peerSnapshots (): VpnPeerSnapshot[] {
    return [...this.clients.values()].map((c) => snapshotPeer(c.peer, String(c.sessionIndex), c.config.name, c.sinceMs, (pathId) => {
      const { address, port } = decodeAddress(c.addrs, pathId)
      // On a wildcard listen address: the address this path's datagrams arrive on (and leave from).
      const local = endpointText(decodeLocalAddress(c.addrs, pathId) ?? this.options.listen.address, this.socket.port)
      return { local, remote: endpointText(address, port) }
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

  /**
   * Replaces the peer list (SIGHUP, like `wg syncconf`): a connected client whose key is still
   * listed keeps its session and paths and takes its entry's name and prefixes; a client whose key
   * is gone is told (CLOSE) and forgotten; new keys may handshake at once. Nothing else is touched.
   * The caller checks the list as at startup (names, keys and prefixes distinct).
   */
  setPeers (peers: ServerPeerConfig[]): PeerListChange {
    if (peers.length === 0) throw new UsageError('the new peer list is empty: a server needs at least one key (kept the current list)')
    const change: PeerListChange = { added: [], removed: [], changed: [], kept: [] }
    for (const entry of peers) if (!this.peerConfigs.some((old) => sameKey(old.key, entry.key))) change.added.push(entry.name)
    for (const old of this.peerConfigs) if (!peers.some((entry) => sameKey(old.key, entry.key))) change.removed.push(old.name)
    for (const client of [...this.clients.values()]) {
      const entry = peers.find((p) => sameKey(p.key, client.config.key))
      if (entry === undefined) {
        client.peer.sendClose(CloseReason.Removed)
        this.batch.flush()
        this.forget(client, 'its key is no longer in the peer list')
        continue
      }
      const prefixesChanged = entry.allowedIps.join(' ') !== client.config.allowedIps.join(' ')
      if (entry.name !== client.config.name || prefixesChanged) change.changed.push(entry.name)
      else change.kept.push(entry.name)
      client.config = entry
      if (prefixesChanged) {
        client.allowed = entry.allowedIps.map(parsePrefix)
        // Learned routes belong to a client without prefixes; with new prefixes they would outrank them.
        this.forgetRoutesOf(client)
      }
    }
    this.peerConfigs = peers
    this.keys = peers.map((p) => p.key)
    return change
  }

  /** Every connected client's peer, for `show` and tests. */
  get peers (): Peer[] { return [...this.clients.values()].map((c) => c.peer) }

  /**
   * Counts a failure by kind and logs it at most once per kind and source address per 10 s;
   * under handshake load (thousands of sources), once per kind, so a flood costs a few lines.
   */
  private count (kind: string, source: string, detail: string): void {
    this.tally(kind, source)
    const suppressed = this.logLimiter.admit(this.underLoad ? kind : `${kind} ${source.replace(/:\d+$/, '')}`, this.clock.now())
    if (suppressed >= 0) this.log.warn(`${detail} from ${source}${suppressed ? ` (${suppressed} more not shown)` : ''}`)
  }

  private tally (kind: string, source: string): void {
    const entry = this.stats.errors[kind] ??= { count: 0, lastSource: '', lastAtMs: 0 }
    entry.count++
    entry.lastSource = source
    entry.lastAtMs = this.clock.now()
  }

  /** A cap was hit: counted as `limit`, logged once per cap per 10 s with how often it was hit meanwhile. */
  private capHit (cap: string, source: string, detail: string): void {
    this.tally('limit', source)
    const suppressed = this.logLimiter.admit(`cap ${cap}`, this.clock.now())
    if (suppressed >= 0) this.log.warn(`${detail} (from ${source}${suppressed ? `; hit ${suppressed} more times since the last report` : ''})`)
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
    // Open every sealed datagram of the batch first, with one addon call per receiving key.
    const opener = this.opener
    opener.begin(count)
    for (let i = 0; i < count; i++) {
      const at = offsets[i]!
      if (lengths[i]! < 6 || buf[at] !== DatagramType.Sealed) continue
      const rx = this.clientOf(buf.readUInt32BE(at + 2))?.peer.session?.receiveKeyFor(buf[at + 1]!, lengths[i]!, now)
      if (rx !== undefined && typeof rx !== 'string') opener.add(i, readSealedCounter(buf, at), rx)
    }
    opener.openAll(arena, offsets, lengths)
    for (let i = 0; i < count; i++) {
      // Datagram i is buf[at, at + length): sealed ones are handled in place, without a view each.
      const at = offsets[i]!
      const length = lengths[i]!
      const type = length > 0 ? buf[at] : undefined
      try {
        if (type === DatagramType.Sealed && length >= 6) this.onSealed(buf, at, length, i, now)
        else if (type === DatagramType.Init) this.onInit(buf.subarray(at, at + length), i, now)
        else this.count('malformed', sourceOf(addrs, i), `malformed datagram (type ${type ?? 'none'}, ${length} bytes)`)
      } catch (err) {
        // A bug must cost one datagram, never the server (and every other client with it).
        this.count('malformed', sourceOf(addrs, i), `datagram dropped after an internal error (${(err as Error).message})`)
      }
    }
    this.flush()
  }

  /**
   * Admission, cheapest checks first: mac1 (a key holder made it: one keyed hash per key); under
   * load, mac2 (the source proved its address with our cookie; else it gets a cookie reply, and
   * no Noise work is done); the per-source rate limit; then the Noise handshake, the replay
   * check, and the caps on clients and on clients still pending.
   */
  private onInit (d: Buffer, slot: number, now: number): void {
    const keyIndex = initKeyIndex(this.keys, d)
    if (keyIndex < 0) { this.count('handshake', sourceOf(this.socket.addrs, slot), 'handshake failed: wrong key, or not a gst client'); return }
    const address = this.socket.addrs.subarray(slot * ADDR_BYTES, (slot + 1) * ADDR_BYTES)
    this.noteLoad(now)
    if (this.underLoad && !hasValidMac2(this.cookies, d, address, now)) {
      const reply = writeCookieReply(this.cookies, d, this.keys[keyIndex]!, address, now)
      this.batch.queue(reply, reply.length, this.socket.addrs, slot)   // sent with the batch (one sendmmsg)
      // Counted, not logged (noteLoad said it once); the source named now and then, not formatted per datagram.
      const entry = this.stats.errors.cookie ??= { count: 0, lastSource: sourceOf(this.socket.addrs, slot), lastAtMs: now }
      if ((entry.count++ & 0xff) === 0) entry.lastSource = sourceOf(this.socket.addrs, slot)
      entry.lastAtMs = now
      this.stats.cookieReplies++
      return
    }
    const source = sourceOf(this.socket.addrs, slot)
    const host = source.replace(/:\d+$/, '')
    if (!this.limiter.allow(host, now)) { this.count('limit', source, 'handshake rate limit'); return }
    const decision = readInit(this.keys, d, keyIndex)
    if (!decision.ok) { this.count('handshake', source, `handshake failed: ${decision.reason}`); return }
    const { payload, response, senderIndex } = decision
    if (!this.guard.accept(payload.clientId, payload.timestamp)) { this.count('replay', source, 'replayed handshake'); return }
    const id = payload.clientId.toString('hex')
    let client = this.clients.get(id)
    if (client === undefined) {
      const maxClients = this.options.maxClients ?? 10_000
      if (this.clients.size >= maxClients) { this.capHit('clients', source, `client limit of ${maxClients} reached: handshake refused`); return }
      const maxPending = this.options.maxPendingClients ?? 1024
      if (this.pendingClients >= maxPending) { this.capHit('pending', source, `${maxPending} new clients have not used their sessions yet: handshake refused`); return }
      const config = this.peerConfigs[decision.keyIndex]!
      client = this.newClient(id, config)
      this.pendingClients++
    }
    let localIndex = randomInt(1, 0xffffffff)
    while (this.byIndex.has(localIndex)) localIndex = randomInt(1, 0xffffffff)
    const { datagram, secrets } = writeResponse(response, localIndex, senderIndex)
    const old = client.peer.session
    if (old !== undefined) { old.wipe(); this.byIndex.delete(client.sessionIndex) }
    this.lastIndex = -1
    client.peer.startSession(new VpnSession(secrets, false, localIndex, senderIndex, client.config.key, this.tunables, now), now, payload.pathId)
    // Datagrams waiting to be sealed with a key are sealed and sent before it changes.
    client.peer.session!.beforeSendKeyChange = () => this.batch.flush()
    client.sessionIndex = localIndex
    client.sinceMs = now
    client.lastHeardMs = now
    this.byIndex.set(localIndex, client)
    this.notePath(client, payload.pathId, slot)
    this.socket.sendTo(datagram, datagram.length, this.socket.addrs, slot)
    this.stats.handshakes++
    this.log.info(`client ${client.config.name} (${id.slice(0, 8)}) session up from ${source}`)
  }

  /** Tracks handshake load (`initiation`: one more INIT counts); logs when it starts and ends. */
  private noteLoad (now: number, initiation = true): void {
    const under = initiation ? this.load.note(now) : this.load.isUnderLoad(now)
    if (under === this.underLoad) return
    this.underLoad = under
    if (under) {
      this.stats.loadEpisodes++
      this.cookiesAtLoadStart = this.stats.cookieReplies
      this.log.warn(`handshake load: over ${this.load.thresholdPerSecond} initiations/s; only sources that prove their address with a cookie get a handshake`)
    } else {
      this.log.info(`handshake load over: ${this.stats.cookieReplies - this.cookiesAtLoadStart} cookie replies sent`)
    }
  }

  private cookiesAtLoadStart = 0

  private newClient (id: string, config: ServerPeerConfig): RemoteClient {
    const addrs = new Uint8Array(ADDR_BYTES * 256)
    const client: RemoteClient = {
      id, config, addrs, addrWords: addressWords(addrs)!, sessionIndex: 0, learnedV4: new Set(), innerMtu: 0, sinceMs: 0, lastHeardMs: 0, confirmed: false,
      allowed: config.allowedIps.map(parsePrefix),
      peer: new Peer({
        send: (pathId, datagram, length) => { this.batch.queue(datagram, length, addrs, pathId) },
        sendUnsealed: (pathId, datagram, length, key, counter) => { this.batch.queueUnsealed(datagram, length, addrs, pathId, key, counter) },
        slotFor: (_pathId, length) => this.batch.slotFor(length),
        commitUnsealed: (pathId, length, key, counter) => { this.batch.commitUnsealed(length, addrs, pathId, key, counter) },
        deliver: (packet, offset, length) => { this.tunBatch.queue(packet, offset, length) },
        admitsRebuilt: (packet, offset, length) => this.admitRebuilt(client, packet, offset, offset + length),
      }, {
        scheduler: this.runtimeScheduler ?? this.options.scheduler ?? 'auto',
        pacing: this.options.pacing === true,
        ...(this.options.equalDelay !== undefined ? { equalDelay: this.options.equalDelay } : {}),
        mtuBytes: this.mtuBytes,
        fixedMtu: this.options.tun.mtuBytes !== undefined,
        onInnerMtu: (mtu) => this.onInnerMtu(client, mtu),
        probeIntervalMs: this.tunables.probeIntervalMs,
        downFloorMs: this.tunables.downFloorMs,
        traceHoles: this.tunables.traceHoles,
        log: this.log,
        label: `peer ${config.name}`,
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
    // The usual case (a known path, the same address): 10 word compares, nothing else.
    const words = this.socketAddrWords
    let same = client.peer.path(pathId) !== undefined
    for (let i = 0; same && i < ADDR_WORDS; i++) if (client.addrWords[pathId * ADDR_WORDS + i] !== words[slot * ADDR_WORDS + i]) same = false
    if (same) return
    const known = client.peer.path(pathId) !== undefined
    client.addrs.set(from.subarray(src, src + ADDR_BYTES), at)
    const local = decodeLocalAddress(from, slot)
    const source = sourceOf(from, slot) + (local === undefined ? '' : ` (to ${local})`)
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

  /** The last session index looked up, and its client: consecutive datagrams are mostly one client's. */
  private lastIndex = -1
  private lastIndexClient: RemoteClient | undefined

  private clientOf (index: number): RemoteClient | undefined {
    if (index !== this.lastIndex) {
      this.lastIndex = index
      this.lastIndexClient = this.byIndex.get(index)
    }
    return this.lastIndexClient
  }

  /** The sealed datagram buf[start, start + length), from receive slot `slot`. */
  private onSealed (buf: Buffer, start: number, length: number, slot: number, now: number): void {
    const client = this.clientOf(buf.readUInt32BE(start + 2))
    if (client === undefined) { this.count('unknown-session', sourceOf(this.socket.addrs, slot), 'datagram for an unknown session'); return }
    const session = client.peer.session!
    const result = this.opener.result(slot, session, buf, start, length, now)
    if (result !== 'ok') { this.count(result, sourceOf(this.socket.addrs, slot), `datagram failed (${result})`); return }
    const pathId = buf[start + SEALED_HEADER_BYTES + 1]!
    this.notePath(client, pathId, slot)
    const innerAt = start + SEALED_HEADER_BYTES + DATA_HEADER_BYTES
    if (buf[start + SEALED_HEADER_BYTES] === MessageKind.Data && !this.admitInnerSource(client, buf, innerAt, start + length)) {
      this.refuseInnerSource(client, buf, innerAt, start + length, sourceOf(this.socket.addrs, slot), 'sent')
      return
    }
    client.lastHeardMs = now
    if (!client.confirmed) { client.confirmed = true; this.pendingClients-- }
    client.peer.onMessage(buf, length, now, start)
    if (client.peer.closedByPeer) this.forget(client, 'closed by the client')
  }

  /** Drops a client: its session keys, its index and its learned routes. */
  private forget (client: RemoteClient, why: string): void {
    client.peer.session?.wipe()
    this.byIndex.delete(client.sessionIndex)
    this.lastIndex = -1
    this.clients.delete(client.id)
    if (!client.confirmed) this.pendingClients--
    this.forgetRoutesOf(client)
    this.stats.clients = this.clients.size
    this.log.info(`client ${client.config.name} (${client.id.slice(0, 8)}) gone: ${why}`)
  }

  private forgetRoutesOf (client: RemoteClient): void {
    for (const [address, owner] of this.routesV4) if (owner === client) this.routesV4.delete(address)
    for (const [address, owner] of this.routesV6) if (owner === client) this.routesV6.delete(address)
    this.lastRouteClient = undefined
    this.lastRouteSrc = -1
  }

  /** The last learned IPv4 route confirmed (most packets come from the one source as the one before). */
  private lastRouteSrc = -1
  private lastRouteClient: RemoteClient | undefined

  /** A packet rebuilt from the client's FEC parity meets the same inner-source rule as its data. */
  private admitRebuilt (client: RemoteClient, d: Buffer, at: number, end: number): boolean {
    if (this.admitInnerSource(client, d, at, end)) return true
    this.refuseInnerSource(client, d, at, end, client.config.name, 'sent parity rebuilding a packet')
    return false
  }

  /**
   * Counts and logs an inner packet d[at, end) whose source `client` does not own (`key`: where it
   * came from, for the error counters). The client host's own IPv6 link chatter on its TUN (router
   * solicitations, MLD) is no spoofing: counted like any other, logged only at debug.
   */
  private refuseInnerSource (client: RemoteClient, d: Buffer, at: number, end: number, key: string, what: string): void {
    // A refusal, logged: a view that ends with the packet is fine here (a short one reads no bytes past it).
    const inner = end > at ? sourceText(d.subarray(0, end), at) : 'a truncated packet'
    if (end >= at + 40 && isLinkLocalSource(d, at)) {
      this.tally('not-allowed', key)
      if (this.logLimiter.admit(`link-local ${client.id}`, this.clock.now()) >= 0) this.log.debug(`client ${client.config.name} ${what} from ${inner} (IPv6 link-local, not in its prefixes): dropped`)
    } else {
      this.count('not-allowed', key, `client ${client.config.name} ${what} from ${inner}, an inner address it does not own`)
    }
  }

  /**
   * Cryptokey routing: a client's inner source must be one of its prefixes (or, with none
   * configured, is learned). The inner packet is d[at, end).
   */
  private admitInnerSource (client: RemoteClient, d: Buffer, at: number, end: number): boolean {
    const version = ipVersionOf(d, at)
    if (version === 4 && end >= at + 20) {
      const src = ipv4Source(d, at)
      if (client.allowed.length > 0) return client.allowed.some((p) => prefixContainsV4(p, src))
      if (src === this.lastRouteSrc && client === this.lastRouteClient) return true
      if (this.routesV4.get(src) !== client) this.routesV4.set(src, client)
      this.lastRouteSrc = src
      this.lastRouteClient = client
      return true
    }
    if (version === 6 && end >= at + 40) {
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
      if (this.underLoad) this.noteLoad(now, false)
      for (const client of this.clients.values()) {
        if (now - client.lastHeardMs > this.tunables.clientIdleMs) this.forget(client, `silent for ${Math.round((now - client.lastHeardMs) / 1000)} s`)
        else if (!client.confirmed && now - client.sinceMs > PENDING_CLIENT_TIMEOUT_MS) this.forget(client, 'its session carried nothing after the handshake')
      }
    }
    for (const client of this.clients.values()) client.peer.tick(now)
    this.flush()
    if (this.tun.isDetached && !this.fatalReported) {
      this.fatalReported = true
      this.options.onFatal?.(`TUN ${this.tun.name} is gone (removed under us, e.g. ip link del): nothing can pass any more`)
    }
  }

  private fatalReported = false
}

function sourceOf (addrs: Uint8Array, slot: number): string {
  const { address, port } = decodeAddress(addrs, slot)
  return endpointText(address, port)
}

export { encodeAddress }
