// npm run bench:tun — TUN packet I/O: the native addon (uv_poll, batched reads into an arena,
// synchronous writes) against node-tuntap2's design (fs streams on the libuv threadpool over a
// blocking fd), measured in the same run on the same kernel.
//
// Runs in a private network namespace (re-executes itself under `unshare --net`), so the
// traffic and devices exist nowhere else. Reads: a separate generator process writes packets
// into a second TUN as fast as it can and the kernel forwards them into the reader's TUN
// (dropping what the reader cannot take); we count what the reader drains in a fixed time and
// its CPU time per packet. Writes: N packets to an address the kernel drops without a reply.
// Then the optional native UDP socket (recvmmsg/sendmmsg) against node:dgram on loopback.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import fs from 'node:fs'
import { fileURLToPath } from 'node:url'
import { TunDevice, UdpSocket, encodeAddress, setBufferSize, ADDR_BYTES, PEER_ADDR_BYTES, loadAddon } from '../src/native/index.js'

const PAYLOAD_BYTES = 1000
const PACKET_BYTES = PAYLOAD_BYTES + 28
const READ_MS = 3000
const WARMUP_MS = 500
const WRITE_PACKETS = 320_000
const BATCH = 64
const TXQUEUE_PACKETS = 4096
const RCVBUF_BYTES = 4 << 20  // both UDP receivers: ~2000 datagrams of slack for scheduling delays

const self = fileURLToPath(import.meta.url)
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms))

interface Row { path: string, packets: number, seconds: number, cpuSeconds: number, offered?: number }

/** An IPv4/UDP packet of PACKET_BYTES with a valid header checksum. */
function udpPacket (src: number[], dst: number[]): Uint8Array {
  const p = new Uint8Array(PACKET_BYTES)
  const v = new DataView(p.buffer)
  v.setUint8(0, 0x45); v.setUint16(2, PACKET_BYTES); v.setUint8(8, 64); v.setUint8(9, 17)
  p.set(src, 12); p.set(dst, 16)
  let sum = 0
  for (let i = 0; i < 20; i += 2) sum += v.getUint16(i)
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16)
  v.setUint16(10, ~sum & 0xffff)
  v.setUint16(20, 5000); v.setUint16(22, 9); v.setUint16(24, PACKET_BYTES - 20)
  return p
}

/** UDP generator mode: PAYLOAD_BYTES datagrams to 127.0.0.1:PORT with sendmmsg, until killed. */
function generateUdp (port: number): void {
  const socket = UdpSocket.open({ address: '127.0.0.1' })
  const arena = new Uint8Array(BATCH * PAYLOAD_BYTES)
  const lengths = new Uint32Array(BATCH).fill(PAYLOAD_BYTES)
  const addrs = new Uint8Array(BATCH * ADDR_BYTES)
  for (let i = 0; i < BATCH; i++) encodeAddress('127.0.0.1', port, addrs, i)
  const burst = (): void => {
    socket.sendSlots(arena, PAYLOAD_BYTES, lengths, addrs, BATCH)
    setImmediate(burst)
  }
  burst()
}

/** Generator mode: packets to 10.NET.0.2, written into our own TUN for the kernel to forward. */
function generate (net: number): void {
  const tun = TunDevice.open({ name: 'benchgen0', addresses: ['10.84.0.1/24'] })
  const batch = Array.from({ length: BATCH }, () => udpPacket([10, 84, 0, 2], [10, net, 0, 2]))
  const burst = (): void => {
    tun.writeBatch(batch)
    setImmediate(burst)
  }
  burst()
}

function startGenerator (net: number): ChildProcess {
  return spawn(process.execPath, [self, 'generate', String(net)], { stdio: 'inherit' })
}

/** Packets the kernel tried to hand to a TUN's reader: taken plus dropped for a full queue. */
function offeredPackets (device: string): number {
  // /proc/net/dev follows our namespace (/sys would need a remount): rx has 8 columns, then tx
  // bytes, packets, errs, drop.
  const line = fs.readFileSync('/proc/net/dev', 'utf8').split('\n').find((l) => l.trim().startsWith(`${device}:`))
  const f = (line ?? '').split(':')[1]?.trim().split(/\s+/).map(Number) ?? []
  return (f[9] ?? 0) + (f[11] ?? 0)
}
function cpuSeconds (since: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(since)
  return (d.user + d.system) / 1e6
}

/** Counts packets for READ_MS after a warm-up, with this process's CPU time. */
async function measureRead (path: string, device: string, counter: () => number): Promise<Row> {
  await sleep(WARMUP_MS)
  const before = counter()
  const offeredBefore = offeredPackets(device)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  await sleep(READ_MS)
  const cpuUsed = cpuSeconds(cpu)
  const seconds = (performance.now() - t0) / 1000
  return { path, packets: counter() - before, seconds, cpuSeconds: cpuUsed, offered: offeredPackets(device) - offeredBefore }
}

async function readAddon (): Promise<Row> {
  let packets = 0
  const tun = TunDevice.open({ name: 'benchrd0', addresses: ['10.81.0.1/24'], onBatch: (count) => { packets += count } })
  setQueueLength(tun.name)
  tun.start()
  const generator = startGenerator(81)
  try {
    const row = await measureRead(`read  addon (uv_poll, batches of ${tun.lengths.length})`, tun.name, () => packets)
    const s = tun.stats()
    console.log(`addon reader: ${(s.readPackets / s.readBatches).toFixed(1)} packets per batch on average`)
    return row
  } finally {
    generator.kill()
    tun.close()
  }
}

async function readFsStream (): Promise<Row> {
  const native = loadAddon()
  const { fd, name } = native.tunOpen('benchrd1', false, true)
  native.tunAddAddress(name, '10.82.0.1', 24)
  native.tunSetUp(name, true)
  setQueueLength(name)
  let packets = 0
  // What node-tuntap2 does: a ReadStream on the blocking fd, one fs.read per packet on the threadpool.
  const stream = fs.createReadStream('', { fd, highWaterMark: 65_536, autoClose: false })
  stream.on('data', () => { packets++ })
  stream.on('error', () => {})
  const generator = startGenerator(82)
  try {
    return await measureRead('read  fs.createReadStream (threadpool)', name, () => packets)
  } finally {
    stream.pause()
    generator.kill()
    // A threadpool read may stay blocked on the fd; the process exits at the end regardless.
  }
}

/** A packet to 10.83.9.9: not ours, and a namespace that does not forward drops it silently. */
const packetToNowhere = (): Uint8Array => udpPacket([10, 83, 0, 2], [10, 83, 9, 9])

function writeAddon (batched: boolean): Row {
  const tun = TunDevice.open({ name: batched ? 'benchwr1' : 'benchwr0', addresses: [batched ? '10.83.1.1/24' : '10.83.0.1/24'] })
  const packet = packetToNowhere()
  const batch = Array.from({ length: BATCH }, () => packet)
  try {
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    if (batched) for (let i = 0; i < WRITE_PACKETS; i += BATCH) tun.writeBatch(batch)
    else for (let i = 0; i < WRITE_PACKETS; i++) tun.write(packet)
    const seconds = (performance.now() - t0) / 1000
    const s = tun.stats()
    const path = batched ? `write addon writeBatch(${BATCH})` : 'write addon write()'
    return { path, packets: s.writePackets, seconds, cpuSeconds: cpuSeconds(cpu) }
  } finally {
    tun.close()
  }
}

async function writeFsStream (): Promise<Row> {
  const native = loadAddon()
  const { fd, name } = native.tunOpen('benchwr2', false, true)
  native.tunAddAddress(name, '10.83.2.1', 24)
  native.tunSetUp(name, true)
  const stream = fs.createWriteStream('', { fd, autoClose: false })
  const packet = Buffer.from(packetToNowhere())
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  for (let i = 0; i < WRITE_PACKETS; i++) {
    if (!stream.write(packet)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()))
  }
  await new Promise<void>((resolve) => stream.end(() => resolve()))
  const row = { path: 'write fs.createWriteStream (threadpool)', packets: WRITE_PACKETS, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds(cpu) }
  native.tunClose(fd)
  return row
}

/** Receives from a sendmmsg generator for READ_MS; `offered` is what reached our socket's
 * queue, including datagrams the kernel dropped because we were too slow. */
async function udpReceive (native: boolean): Promise<Row> {
  let packets = 0
  let port: number
  let close: () => void
  if (native) {
    const socket = UdpSocket.open({ address: '127.0.0.1', onBatch: (count) => { packets += count } })
    setBufferSize(socket.fd, 'receive', RCVBUF_BYTES)
    socket.start()
    port = socket.port
    close = () => socket.close()
  } else {
    const socket = dgram.createSocket('udp4')
    socket.on('message', () => { packets++ })
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    setBufferSize(socket, 'receive', RCVBUF_BYTES)  // FORCE past rmem_max, as for ours
    port = socket.address().port
    close = () => socket.close()
  }
  const generator = spawn(process.execPath, [self, 'generate-udp', String(port)], { stdio: 'inherit' })
  try {
    await sleep(WARMUP_MS)
    const before = packets
    const droppedBefore = udpReceiveDrops()
    const cpu = process.cpuUsage()
    const t0 = performance.now()
    await sleep(READ_MS)
    const cpuUsed = cpuSeconds(cpu)
    const got = packets - before
    const path = native ? `udp recv addon recvmmsg (batches of ${BATCH})` : 'udp recv node:dgram'
    return { path, packets: got, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuUsed, offered: got + udpReceiveDrops() - droppedBefore }
  } finally {
    generator.kill()
    close()
  }
}

/** UDP RcvbufErrors of our namespace (/proc/net/snmp follows it). */
function udpReceiveDrops (): number {
  const lines = fs.readFileSync('/proc/net/snmp', 'utf8').split('\n').filter((l) => l.startsWith('Udp:'))
  const names = lines[0]?.split(/\s+/) ?? []
  const values = lines[1]?.split(/\s+/) ?? []
  return Number(values[names.indexOf('RcvbufErrors')] ?? 0)
}

/**
 * Sends WRITE_PACKETS datagrams to a bound socket that never reads (the kernel drops them). With
 * `pktinfo` the sender is bound to 0.0.0.0 and every slot names its source (an IP_PKTINFO control
 * message on each UDP_SEGMENT message), as a wildcard-bound ttt server sends.
 */
async function udpSend (native: boolean, pktinfo = false): Promise<Row> {
  const sink = dgram.createSocket('udp4')
  sink.bind(0, '127.0.0.1')
  await once(sink, 'listening')
  const port = sink.address().port
  const payload = Buffer.alloc(PAYLOAD_BYTES)
  const cpu = process.cpuUsage()
  const t0 = performance.now()
  let sent = 0
  if (native) {
    const socket = UdpSocket.open({ address: pktinfo ? '0.0.0.0' : '127.0.0.1' })
    const arena = new Uint8Array(BATCH * PAYLOAD_BYTES)
    const lengths = new Uint32Array(BATCH).fill(PAYLOAD_BYTES)
    const addrs = new Uint8Array(BATCH * ADDR_BYTES)
    const local = new Uint8Array(PEER_ADDR_BYTES)
    encodeAddress('127.0.0.1', 0, local)
    for (let i = 0; i < BATCH; i++) {
      encodeAddress('127.0.0.1', port, addrs, i)
      if (pktinfo) addrs.set(local, i * ADDR_BYTES + PEER_ADDR_BYTES)
    }
    for (let i = 0; i < WRITE_PACKETS; i += BATCH) sent += socket.sendSlots(arena, PAYLOAD_BYTES, lengths, addrs, BATCH)
    socket.close()
  } else {
    const socket = dgram.createSocket('udp4')
    socket.bind(0, '127.0.0.1')
    await once(socket, 'listening')
    socket.connect(port, '127.0.0.1')
    await once(socket, 'connect')
    // Bursts of BATCH, then a turn of the event loop so send callbacks and queues drain.
    for (let i = 0; i < WRITE_PACKETS; i += BATCH) {
      for (let j = 0; j < BATCH; j++) socket.send(payload, () => { sent++ })
      await new Promise((resolve) => setImmediate(resolve))
    }
    while (sent < WRITE_PACKETS) await new Promise((resolve) => setImmediate(resolve))
    socket.close()
  }
  const row = { path: native ? `udp send addon sendmmsg(${BATCH})${pktinfo ? ' 0.0.0.0 + IP_PKTINFO' : ''}` : 'udp send node:dgram (connected)', packets: sent, seconds: (performance.now() - t0) / 1000, cpuSeconds: cpuSeconds(cpu) }
  sink.close()
  return row
}

function printTable (rows: Row[]): void {
  const header = ['path', 'packets', 'offered/s', 'packets/s', 'Mbit/s', 'CPU us/packet']
  const pps = (n: number, s: number): string => Math.round(n / s).toLocaleString('en-US')
  const body = rows.map((r) => [
    r.path, String(r.packets), r.offered === undefined ? '-' : pps(r.offered, r.seconds), pps(r.packets, r.seconds),
    (r.packets * PACKET_BYTES * 8 / r.seconds / 1e6).toFixed(0), (r.cpuSeconds * 1e6 / r.packets).toFixed(2),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)))
  const line = (cells: string[]): string => cells.map((c, i) => i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!)).join('  ')
  console.log(line(header))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const row of body) console.log(line(row))
}

/** A longer kernel queue in front of the reader (default 500), so what we measure is the
 * reader's speed more than the scheduler's latency on a loaded machine. Same for both readers. */
function setQueueLength (device: string): void {
  spawnSync('ip', ['link', 'set', 'dev', device, 'txqueuelen', String(TXQUEUE_PACKETS)])
}

function execLoopbackUp (): void {
  spawnSync('ip', ['link', 'set', 'lo', 'up'])
}

function setSysctl (path: string, value: string): void {
  fs.writeFileSync(`/proc/sys/${path}`, value)
}

async function main (): Promise<void> {
  console.log(`TUN I/O, ${PACKET_BYTES}-byte IPv4 packets; reads: ${READ_MS / 1000} s fed by a generator process through kernel forwarding; writes: ${WRITE_PACKETS} packets`)
  // Our private namespace only: forward generator traffic into the reader, then stop forwarding
  // so written packets to a foreign address are dropped without ICMP.
  for (const conf of ['all', 'default']) setSysctl(`net/ipv4/conf/${conf}/rp_filter`, '0')
  setSysctl('net/ipv4/ip_forward', '1')
  const reads = [await readAddon(), await readFsStream()]
  setSysctl('net/ipv4/ip_forward', '0')
  const rows = [...reads, writeAddon(false), writeAddon(true), await writeFsStream()]
  printTable(rows)
  console.log()
  console.log(`UDP on loopback, ${PAYLOAD_BYTES}-byte payloads; receive: ${READ_MS / 1000} s from a sendmmsg generator process; send: ${WRITE_PACKETS} datagrams`)
  execLoopbackUp()
  printTable([await udpReceive(true), await udpReceive(false), await udpSend(true), await udpSend(true, true), await udpSend(false)])
  console.log('offered/s: packets the kernel queued for the reader plus those it dropped because the queue was full.')
  console.log('CPU: the reader or writer process\'s user+system time, kernel work of read()/write() and the threadpool included.')
}

const [mode, arg] = process.argv.slice(2)
if (mode === 'generate') generate(Number(arg))
else if (mode === 'generate-udp') generateUdp(Number(arg))
else if (mode === 'in-netns') main().then(() => process.exit(0), (error: unknown) => { console.error(error); process.exit(1) })
else if (process.getuid?.() !== 0) {
  console.error('bench:tun needs root (TUN devices in a private network namespace)')
  process.exitCode = 1
} else {
  const run = spawnSync('unshare', ['--net', process.execPath, self, 'in-netns'], { stdio: 'inherit' })
  process.exitCode = run.status ?? 1
}
