/**
 * CPU per packet of the VPN's user-space pipeline alone, in one process, without the kernel,
 * the crypto or the other processes a tunnel run competes with: a sending Peer (sendInner ->
 * scheduler -> stamp -> datagram) and a receiving Peer (onMessage -> path feedback -> reorder ->
 * hand-over to the TUN batch), both with the weighted scheduler on one path, sessions stubbed
 * (sealing and opening are measured by `npm run bench:aead`). Timed in chunks of 256 packets (a
 * CPU clock read costs a few us, about 0.02 us per packet, included); feedback goes both ways
 * between chunks, untimed. Prints process CPU time per packet (user + system), which a loaded
 * machine moves far less than a tunnel's throughput; compare builds in the same minutes.
 *
 *   node dist/bench/vpn-pipeline.js [--packets 300000] [--rounds 5]
 */
import { Peer } from '../src/vpn/peer.js'
import type { VpnSession } from '../src/vpn/session.js'
import { silentLogger } from '../src/log.js'
import { innerPacket } from '../test/helpers/inner-packet.js'
import { loadAverage } from './lib/vpn.js'
import { benchArgs } from './lib/bench-args.js'

const args = benchArgs('node dist/bench/vpn-pipeline.js [--packets 300000] [--rounds 5]', { packets: 'number', rounds: 'number' })
const opt = args.number
const PACKETS = opt('packets', 300_000)
const ROUNDS = opt('rounds', 5)
const INNER_BYTES = 1400
const SLOT = 2048
const CHUNK = 256

const session = { seal: () => {}, sealLater: () => 0, sendKey: undefined, rekeyMessageDue: () => null, sweep: () => {} } as unknown as VpnSession

/** Datagrams one side sent, kept in a fixed ring (no allocation per packet). */
class Wire {
  readonly slab = Buffer.alloc(SLOT * 4096)
  readonly lengths = new Uint32Array(4096)
  private readonly views = Array.from({ length: 4096 }, (_, i) => this.slab.subarray(i * SLOT, (i + 1) * SLOT))
  count = 0
  push (d: Buffer, length: number): void {
    d.copy(this.slab, this.count * SLOT, 0, length)
    this.lengths[this.count++] = length
  }

  /** As SendBatch.slotFor / commitUnsealed: the datagram is written in place (tag left out). */
  slot (): Buffer { return this.views[this.count]! }
  commit (length: number): void { this.lengths[this.count++] = length + 16 }
}

function makePeer (wire: Wire, delivered: { bytes: number }): Peer {
  const peer = new Peer({
    send: (_pathId, d, length) => { wire.push(d, length) },
    // As the real ends do: sealed later with the batch (here not at all), copied in or written in place.
    sendUnsealed: (_pathId, d, length) => { wire.push(d, length + 16) },
    slotFor: () => wire.slot(),
    commitUnsealed: (_pathId, length) => { wire.commit(length) },
    deliver: (_packet, _offset, length) => { delivered.bytes += length },
  }, { scheduler: 'weighted', mtuBytes: 1500, log: silentLogger }, [{ id: 0, name: 'p0' }])
  const p = peer.path(0)!
  p.state = 'up'
  p.addRttSample(1, 0)
  p.addDeliveryRateSample(1e9, 0)
  peer.startSession(session, 0, 0)
  return peer
}

function cpuUs (): number { const u = process.cpuUsage(); return u.user + u.system }

function round (): { sendUs: number, receiveUs: number } {
  const toServer = new Wire()
  const toClient = new Wire()
  const sink = { bytes: 0 }
  const client = makePeer(toServer, sink)
  const server = makePeer(toClient, sink)
  const packet = innerPacket(INNER_BYTES, { protocol: 6 })
  let sendUs = 0
  let receiveUs = 0
  let nowMs = 1
  for (let sent = 0; sent < PACKETS; sent += CHUNK) {
    nowMs += 0.2
    let t = cpuUs()
    for (let i = 0; i < CHUNK; i++) client.sendInner(packet, 0, packet.length, nowMs)
    sendUs += cpuUs() - t
    t = cpuUs()
    for (let i = 0; i < toServer.count; i++) server.onMessage(toServer.slab.subarray(i * SLOT, i * SLOT + toServer.lengths[i]!), toServer.lengths[i]!, nowMs)
    receiveUs += cpuUs() - t
    toServer.count = 0
    // Housekeeping and feedback both ways, outside the timed parts.
    server.tick(nowMs)
    for (let i = 0; i < toClient.count; i++) client.onMessage(toClient.slab.subarray(i * SLOT, i * SLOT + toClient.lengths[i]!), toClient.lengths[i]!, nowMs)
    toClient.count = 0
    client.tick(nowMs)
    for (let i = 0; i < toServer.count; i++) server.onMessage(toServer.slab.subarray(i * SLOT, i * SLOT + toServer.lengths[i]!), toServer.lengths[i]!, nowMs)
    toServer.count = 0
  }
  if (sink.bytes < PACKETS * INNER_BYTES * 0.99) throw new Error(`only ${sink.bytes} of ${PACKETS * INNER_BYTES} bytes delivered`)
  return { sendUs: sendUs / PACKETS, receiveUs: receiveUs / PACKETS }
}

const load = loadAverage()
const rows: Array<{ sendUs: number, receiveUs: number }> = []
for (let r = 0; r < ROUNDS; r++) rows.push(round())
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
console.log(`VPN pipeline in user space, ${PACKETS} packets of ${INNER_BYTES} bytes per round, ${ROUNDS} rounds (node ${process.version}), load ${load}`)
console.log(`send (sendInner -> datagram):      ${rows.map((r) => r.sendUs.toFixed(3)).join(' ')} us/packet CPU, median ${median(rows.map((r) => r.sendUs)).toFixed(3)}`)
console.log(`receive (onMessage -> TUN batch):  ${rows.map((r) => r.receiveUs.toFixed(3)).join(' ')} us/packet CPU, median ${median(rows.map((r) => r.receiveUs)).toFixed(3)}`)
