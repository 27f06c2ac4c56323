/**
 * A userspace "NAT box" between a ttt client and its server, run inside the client namespace:
 *
 *   node udp-relay.js LISTEN_ADDR LISTEN_PORT UPSTREAM_BIND SERVER_ADDR SERVER_PORT
 *
 * The client sends to LISTEN_ADDR:LISTEN_PORT; the relay forwards from a socket bound to
 * UPSTREAM_BIND (ephemeral port) to the server and relays replies back. It also watches the
 * cleartext header of sealed datagrams (key epoch byte) and keeps the last ones it forwarded,
 * so a test can replay, truncate or corrupt real datagrams. Commands on stdin, "ID COMMAND ...",
 * each answered by one line "ID {json}":
 *   stats                 counters, epochs seen, the upstream port
 *   rebind                a new upstream socket (new source port), the old one closed: NAT rebinding
 *   replay N same|fresh   re-sends the last N captured client datagrams from the upstream socket or a fresh one
 *   truncate N            captured datagrams cut to random shorter lengths, from a fresh socket
 *   corrupt N             captured datagrams with one ciphertext byte flipped, from a fresh socket
 *   badsession N          sealed-looking datagrams with a random receiver index, from a fresh socket
 *   garbage N             random bytes of random length with a random first byte, from a fresh socket
 *   badinit N             INIT datagrams with random bodies, from a fresh socket
 */
import dgram from 'node:dgram'
import { randomBytes, randomInt } from 'node:crypto'
import { createInterface } from 'node:readline'

const [listenAddr, listenPort, upstreamBind, serverAddr, serverPort] = process.argv.slice(2)
if (serverPort === undefined) { console.error('usage: udp-relay LISTEN_ADDR LISTEN_PORT UPSTREAM_BIND SERVER_ADDR SERVER_PORT'); process.exit(2) }
const sPort = Number(serverPort)
const BUFFER = 4 << 20
const CAPTURE = 512

const stats = { fromClient: 0, toClient: 0, fromServer: 0, dropped: 0, epochChanges: 0, rebinds: 0, injected: 0 }
const epochs = new Set<number>()
let lastEpoch = -1
const captured: Buffer[] = []
let client: { address: string, port: number } | undefined

const down = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER, sendBufferSize: BUFFER })
let upReady: Promise<void> = Promise.resolve()
let up = openUpstream()

function openUpstream (): dgram.Socket {
  const s = dgram.createSocket({ type: 'udp4', recvBufferSize: BUFFER, sendBufferSize: BUFFER })
  s.on('message', (msg) => {
    if (s !== up) return    // a closed mapping: the NAT would drop it
    stats.fromServer++
    if (client) { down.send(msg, client.port, client.address); stats.toClient++ }
  })
  s.on('error', () => {})
  upReady = new Promise<void>((resolve) => s.once('listening', () => resolve()))
  s.bind(0, upstreamBind)
  return s
}

down.on('message', (msg, rinfo) => {
  stats.fromClient++
  client = { address: rinfo.address, port: rinfo.port }
  if (msg[0] === 3 && msg.length > 14) {
    const epoch = msg[1]!
    epochs.add(epoch)
    if (lastEpoch >= 0 && epoch !== lastEpoch) stats.epochChanges++
    lastEpoch = epoch
    if (captured.length >= CAPTURE) captured.shift()
    captured.push(Buffer.from(msg))
  }
  up.send(msg, sPort, serverAddr)
})
down.on('error', (e) => { console.error(`relay: ${e.message}`) })

/** Sends at most 10 datagrams per millisecond, so the injection itself overflows no queue. */
async function paced (s: dgram.Socket, datagrams: Buffer[]): Promise<void> {
  for (const [i, d] of datagrams.entries()) {
    await new Promise<void>((resolve) => s.send(d, sPort, serverAddr, () => resolve()))
    stats.injected++
    if (i % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 1))
  }
}

async function fresh (datagrams: Buffer[]): Promise<void> {
  const s = dgram.createSocket('udp4')
  await new Promise<void>((resolve) => s.bind(0, upstreamBind, resolve))
  await paced(s, datagrams)
  s.close()
}

function lastCaptured (n: number): Buffer[] { return captured.slice(-n).map((d) => Buffer.from(d)) }

async function handle (cmd: string, args: string[]): Promise<unknown> {
  const n = Number(args[0] ?? 1)
  switch (cmd) {
    case 'stats': return { ...stats, epochs: [...epochs], upstreamPort: up.address().port, captured: captured.length }
    case 'rebind': {
      const old = up
      up = openUpstream()
      await upReady
      old.close()
      stats.rebinds++
      return { upstreamPort: up.address().port }
    }
    case 'replay': {
      const ds = lastCaptured(n)
      if (args[1] === 'same') await paced(up, ds); else await fresh(ds)
      return { sent: ds.length }
    }
    case 'truncate': {
      const ds = lastCaptured(n).map((d) => d.subarray(0, randomInt(1, Math.max(2, d.length - 1))))
      await fresh(ds)
      return { sent: ds.length }
    }
    case 'corrupt': {
      const ds = lastCaptured(n).map((d) => { const i = randomInt(14, d.length); d[i] = d[i]! ^ 0x5a; return d })
      await fresh(ds)
      return { sent: ds.length }
    }
    case 'badsession': {
      const ds = Array.from({ length: n }, () => { const d = randomBytes(randomInt(40, 1400)); d[0] = 3; return d })
      await fresh(ds)
      return { sent: ds.length }
    }
    case 'garbage': {
      const ds = Array.from({ length: n }, () => { const d = randomBytes(randomInt(1, 1500)); if (d[0] === 1 || d[0] === 3) d[0] = 0xee; return d })
      await fresh(ds)
      return { sent: ds.length }
    }
    case 'badinit': {
      const ds = Array.from({ length: n }, () => { const d = randomBytes(randomInt(60, 300)); d[0] = 1; d[1] = 1; return d })
      await fresh(ds)
      return { sent: ds.length }
    }
    default: return { error: `unknown command ${cmd}` }
  }
}

down.bind(Number(listenPort), listenAddr, () => {
  void upReady.then(() => console.log(`ready ${listenAddr}:${down.address().port} upstream ${up.address().port}`))
})
createInterface({ input: process.stdin }).on('line', (line) => {
  const [id, cmd, ...args] = line.trim().split(/\s+/)
  if (!id || !cmd) return
  handle(cmd, args).then((r) => console.log(`${id} ${JSON.stringify(r)}`), (e: Error) => console.log(`${id} ${JSON.stringify({ error: e.message })}`))
})
process.stdin.on('end', () => process.exit(0))
