// Run under `unshare --net` (see udp-pktinfo.test.ts): IPv6 packet info on a socket bound to '::'
// in a namespace whose loopback holds two extra IPv6 addresses. A client of fd00::2 sending from
// fd00::1 would get replies from fd00::1 (the route's source) unless the reply names fd00::2.
// Prints one JSON line of what the client saw.
import { spawnSync } from 'node:child_process'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { UdpSocket, decodeLocalAddress, ADDR_BYTES, PEER_ADDR_BYTES } from '../../../src/native/index.js'

function ip (...args: string[]): void {
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr}`)
}

async function main (): Promise<void> {
  ip('link', 'set', 'lo', 'up')
  ip('-6', 'addr', 'add', 'fd00::1/128', 'dev', 'lo', 'nodad')
  ip('-6', 'addr', 'add', 'fd00::2/128', 'dev', 'lo', 'nodad')
  const server = UdpSocket.open({ address: '::' })
  const client = dgram.createSocket('udp6')
  client.bind(0, 'fd00::1')
  await once(client, 'listening')
  const replies: string[] = []
  client.on('message', (message, from) => replies.push(`${message.toString()} from ${from.address}`))
  const arrived = new Promise<Uint8Array>((resolve) => server.onBatch(() => resolve(server.addrs.slice(0, ADDR_BYTES))))
  server.start()
  client.send('hello', server.port, 'fd00::2')
  const slot = await arrived
  server.sendTo(Buffer.from('single'), 6, slot, 0)
  const arena = new Uint8Array(2 * 16)
  const addrs = new Uint8Array(2 * ADDR_BYTES)
  for (let i = 0; i < 2; i++) { arena.set(Buffer.from(`run ${i}`), i * 16); addrs.set(slot, i * ADDR_BYTES) }
  server.sendSlots(arena, 16, new Uint32Array([5, 5]), addrs, 2)
  const forgotten = slot.slice()
  forgotten.fill(0, PEER_ADDR_BYTES)
  server.sendTo(Buffer.from('control'), 7, forgotten, 0)
  for (const deadline = Date.now() + 5000; replies.length < 4 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  console.log(JSON.stringify({ local: decodeLocalAddress(slot), replies }))
  server.close()
  client.close()
}

main().catch((error: unknown) => { console.error(error); process.exit(1) })
