// Two Peers over two fake links on a fake clock, the slow one losing data at random: the nack
// copy on the fast path and FEC parity (src/vpn/peer.ts) repair and rebuild what it lost, and
// every inner packet arrives intact and in order. No sockets, no keys (sealing is not under test).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { Peer } from '../../../src/vpn/peer.js'
import type { VpnSession } from '../../../src/vpn/session.js'
import { MessageKind, SEALED_HEADER_BYTES } from '../../../src/vpn/wire.js'
import { silentLogger } from '../../../src/log.js'
import { innerPacket } from '../../helpers/inner-packet.js'
import { settledPath } from '../../helpers/settled-path.js'

const session = (): VpnSession => ({ seal: () => {}, rekeyMessageDue: () => null, sweep: () => {} }) as unknown as VpnSession

const ONE_WAY_MS = [10, 60]
const PACKET_BYTES = 1200

interface InFlight { atMs: number, to: End, d: Buffer }

/** One end: its peer, the packets it delivered (marker and whether the bytes were intact), its sends by kind. */
class End {
  readonly delivered: number[] = []
  corrupt = 0
  readonly sentKinds = new Map<string, number>()
  readonly peer: Peer
  other!: End
  constructor (readonly name: string, private readonly net: Net) {
    this.peer = new Peer({
      send: (pathId, d, length) => {
        const kind = `${pathId}:${d[SEALED_HEADER_BYTES]}`
        this.sentKinds.set(kind, (this.sentKinds.get(kind) ?? 0) + 1)
        this.net.carry(this, pathId, Buffer.from(d.subarray(0, length)))
      },
      deliver: (packet, offset, length) => {
        const p = Buffer.from(packet.subarray(offset, offset + length))
        const marker = p.readUInt32BE(28)
        this.delivered.push(marker)
        if (!p.subarray(32).equals(payloadOf(marker, length).subarray(32))) this.corrupt++
      },
    }, { scheduler: 'weighted', mtuBytes: 1400, log: silentLogger }, [{ id: 0, name: 'fast', weight: 1 }, { id: 1, name: 'slow', weight: 1 }])
    this.peer.startSession(session(), 0, 0)
    for (const [id, oneWayMs] of ONE_WAY_MS.entries()) settledPath(this.peer, id, oneWayMs, 50e6)
  }

  sent (pathId: number, kind: MessageKind): number { return this.sentKinds.get(`${pathId}:${kind}`) ?? 0 }
}

/** A packet numbered `marker`, its bytes after the header a function of the number. */
function payloadOf (marker: number, length: number): Buffer {
  const p = innerPacket(length, { marker })
  for (let i = 32; i < length; i++) p[i] = (marker * 31 + i) & 0xff
  return p
}

/** The links: fixed one-way delays; data (and parity) from the sender on the slow path lost at `lossRatio` (seeded). */
class Net {
  nowMs = 0
  private readonly queue: InFlight[] = []
  private seed = 12345
  constructor (private readonly lossRatio: number, private readonly lossyFrom: () => End | undefined) {}

  carry (from: End, pathId: number, d: Buffer): void {
    const kind = d[SEALED_HEADER_BYTES]
    if (from === this.lossyFrom() && pathId === 1 && (kind === MessageKind.Data || kind === MessageKind.Parity) && this.random() < this.lossRatio) return
    this.queue.push({ atMs: this.nowMs + ONE_WAY_MS[pathId]!, to: from.other, d })
  }

  /** Delivers what is due by `nowMs`, in arrival order. */
  deliverDue (): void {
    this.queue.sort((a, b) => a.atMs - b.atMs)
    while (this.queue.length > 0 && this.queue[0]!.atMs <= this.nowMs) {
      const { to, d } = this.queue.shift()!
      to.peer.onMessage(d, d.length, this.nowMs)
    }
  }

  private random (): number {
    this.seed = (this.seed * 1103515245 + 12345) % 0x8000_0000
    return this.seed / 0x8000_0000
  }
}

/** Runs `seconds` of a sender -> receiver flow of one packet per ms, ticking both ends every 5 ms, then lets it drain. */
function run (lossRatio: number, seconds: number): { sender: End, receiver: End, sent: number } {
  let sender: End | undefined
  const net = new Net(lossRatio, () => sender)
  sender = new End('sender', net)
  const receiver = new End('receiver', net)
  sender.other = receiver
  receiver.other = sender
  let sent = 0
  for (let t = 1; t <= seconds * 1000 + 1000; t++) {
    net.nowMs = t
    if (t <= seconds * 1000) {
      const p = payloadOf(sent++, PACKET_BYTES)
      sender.peer.sendInner(p, 0, p.length, t)
    }
    net.deliverDue()
    if (t % 5 === 0) { sender.peer.tick(t); receiver.peer.tick(t) }
  }
  return { sender, receiver, sent }
}

test('5 % loss on the slow path: FEC rebuilds, nacks also go on the fast path, and every packet arrives intact and in order', () => {
  const { sender, receiver, sent } = run(0.05, 6)
  assert.ok(sender.sent(1, MessageKind.Data) > 1000, `the slow path carried data (${sender.sent(1, MessageKind.Data)})`)
  assert.ok(sender.peer.counters.fecParities > 0, 'parities were sent')
  assert.equal(sender.sent(1, MessageKind.Parity), sender.peer.counters.fecParities, 'on the lossy path')
  assert.equal(sender.sent(0, MessageKind.Parity), 0, 'never on the clean one')
  assert.ok(receiver.peer.counters.fecRebuilt > 0, `packets rebuilt (${receiver.peer.counters.fecRebuilt})`)
  assert.ok(receiver.peer.counters.nackCopies > 0, 'feedback with nacks was copied to the fast path')
  assert.ok(receiver.sent(0, MessageKind.Feedback) > 0)
  assert.ok(sender.peer.counters.repairs > 0, 'what parity could not rebuild was repaired')
  assert.equal(receiver.corrupt, 0, 'rebuilt packets are byte for byte the sent ones')
  const d = receiver.delivered
  assert.ok(d.every((m, i) => i === 0 || m > d[i - 1]!), 'delivered once each, in order')
  // The first losses come before either end measured the path lossy (the hold is then the delay
  // spread alone, shorter than a repair); from the first second on, nothing is missing.
  const got = new Set(d)
  const missing = Array.from({ length: sent - 1000 }, (_, i) => i + 1000).filter((m) => !got.has(m))
  assert.deepEqual(missing, [], 'every packet from 1 s on arrived')
  assert.ok(d.length >= sent - 10, `${sent - d.length} of ${sent} missing in all`)
})

test('no loss: no parity, no copies (clean paths do no FEC or copy work)', () => {
  const { sender, receiver, sent } = run(0, 3)
  assert.equal(sender.peer.counters.fecParities, 0)
  assert.equal(receiver.peer.counters.nackCopies, 0)
  assert.equal(receiver.peer.counters.fecRebuilt, 0)
  assert.equal(receiver.delivered.length, sent)
})
