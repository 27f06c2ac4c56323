// Exercises TunDevice inside a private network namespace (run by tun.test.ts through
// `unshare --net`, so every device and address vanishes with this process) and prints one JSON
// line of observations for the test to assert on.
import dgram from 'node:dgram'
import { once } from 'node:events'
import { execFileSync } from 'node:child_process'
import { TunDevice, NativeError } from '../../../src/native/index.js'

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))
/** Waits until `done()` or 5 s (a loaded CI machine), whichever comes first. */
async function until (done: () => boolean): Promise<void> {
  for (const deadline = Date.now() + 5000; !done() && Date.now() < deadline;) await sleep(5)
}
const result: Record<string, unknown> = {}

/** An IPv4/UDP packet with a valid header checksum (UDP checksum 0: allowed for IPv4). */
function udpPacket (src: number[], dst: number[], srcPort: number, dstPort: number, payload: Uint8Array): Uint8Array {
  const packet = new Uint8Array(28 + payload.length)
  const view = new DataView(packet.buffer)
  view.setUint8(0, 0x45)
  view.setUint16(2, packet.length)
  view.setUint8(8, 64)
  view.setUint8(9, 17)
  packet.set(src, 12)
  packet.set(dst, 16)
  let sum = 0
  for (let i = 0; i < 20; i += 2) sum += view.getUint16(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  view.setUint16(10, ~sum & 0xffff)
  view.setUint16(20, srcPort)
  view.setUint16(22, dstPort)
  view.setUint16(24, 8 + payload.length)
  packet.set(payload, 28)
  return packet
}

async function main (): Promise<void> {
  execFileSync('ip', ['link', 'set', 'lo', 'up'])
  const tun = TunDevice.open({ name: 'gsttun0', mtuBytes: 1400, addresses: ['10.77.0.1/24', 'fd00:77::1/64'], batchPackets: 32 })
  const link = JSON.parse(execFileSync('ip', ['-j', 'addr', 'show', 'dev', 'gsttun0'], { encoding: 'utf8' }))[0]
  result.link = { mtu: link.mtu, up: link.flags.includes('UP'), addresses: link.addr_info.map((a: { local: string, prefixlen: number }) => `${a.local}/${a.prefixlen}`) }

  // Read path: a burst of UDP datagrams routed into the TUN arrives in batches, and the
  // microtasks queued by one batch run before the next batch is delivered.
  const order: string[] = []
  const seqs: number[] = []
  let batches = 0
  tun.onBatch((count) => {
    const batch = batches++
    order.push(`batch ${batch}`)
    for (let i = 0; i < count; i++) {
      const packet = tun.packet(i)
      if (packet[9] === 17 && packet[16] === 10 && packet[19] === 2) seqs.push(new DataView(packet.buffer, packet.byteOffset).getUint32(28))
    }
    void Promise.resolve().then(() => order.push(`microtask ${batch}`))
  })
  tun.start()
  const sender = dgram.createSocket('udp4')
  sender.bind(0, '10.77.0.1')
  await once(sender, 'listening')
  sender.connect(9, '10.77.0.2')
  await once(sender, 'connect')
  const total = 200
  for (let i = 0; i < total; i++) {
    const payload = Buffer.alloc(100)
    payload.writeUInt32BE(i, 0)
    sender.send(payload)
  }
  await until(() => seqs.length >= total)
  result.read = { seqs: seqs.length, inOrder: seqs.every((s, i) => s === i), batches, order: order.slice(0, 8), stats: tun.stats() }

  // Backpressure: nothing is delivered while stopped; everything queued arrives after start.
  tun.stop()
  const before = seqs.length
  for (let i = total; i < total + 10; i++) {
    const payload = Buffer.alloc(100)
    payload.writeUInt32BE(i, 0)
    sender.send(payload)
  }
  await sleep(50)
  const whileStopped = seqs.length - before
  tun.start()
  await until(() => seqs.length - before >= 10)
  result.backpressure = { whileStopped, afterStart: seqs.length - before }

  // Write path: packets written into the TUN reach a socket in this namespace.
  const receiver = dgram.createSocket('udp4')
  const got: string[] = []
  receiver.on('message', (msg) => got.push(msg.toString()))
  receiver.bind(7000, '10.77.0.1')
  await once(receiver, 'listening')
  const make = (text: string): Uint8Array => udpPacket([10, 77, 0, 2], [10, 77, 0, 1], 5555, 7000, Buffer.from(text))
  const single = tun.write(make('single'))
  const batch = tun.writeBatch([make('batch-0'), make('batch-1'), make('batch-2')])
  const slots = new Uint8Array(2 * 256)
  const lengths = new Uint32Array(2)
  for (const [i, text] of ['slot-0', 'slot-1'].entries()) { const p = make(text); slots.set(p, i * 256); lengths[i] = p.length }
  const slotWrites = tun.writeSlots(slots, 256, lengths, 2)
  const garbage = tun.write(new Uint8Array([0x10, 0, 0, 0]))   // not IPv4/6: the kernel refuses it
  await until(() => got.length >= 6)
  result.write = { single, batch, slotWrites, garbage, got: got.sort(), stats: tun.stats() }

  // Open errors and naming.
  const busy = (() => { try { TunDevice.open({ name: 'gsttun0' }); return 'opened' } catch (e) { return e instanceof NativeError ? `${e.code}: ${e.message}` : String(e) } })()
  const anyName = TunDevice.open({ up: false })
  const q1 = TunDevice.open({ name: 'gstmq0', multiQueue: true })
  const q2 = TunDevice.open({ name: 'gstmq0', multiQueue: true })
  result.open = { busy, anyName: anyName.name, multiQueue: [q1.name, q2.name, q1.fd !== q2.fd] }
  for (const device of [anyName, q1, q2, tun]) device.close()
  tun.close()
  result.closed = !execFileSync('ip', ['-o', 'link'], { encoding: 'utf8' }).includes('gsttun0')
  sender.close()
  receiver.close()
  process.stdout.write(JSON.stringify(result) + '\n')
}

main().catch((error: unknown) => {
  process.stderr.write(`tun-check: ${error instanceof Error ? error.stack : String(error)}\n`)
  process.exitCode = 1
})
