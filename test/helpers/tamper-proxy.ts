// A TCP proxy between a pipe client and server that lets a test see, change, drop or repeat the
// client's records (parsed with the real RecordReader), to play an active attacker on the wire.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { RecordReader } from '../../src/pipe/record.js'

export type RecordHook = (record: Buffer, index: number) => Buffer[]

export interface TamperProxy {
  port: number
  /** Every client->server record seen, in order, per connection. */
  captured: Buffer[][]
  setHook(hook: RecordHook): void
  close(): Promise<void>
}

export async function startTamperProxy (upstreamPort: number): Promise<TamperProxy> {
  const captured: Buffer[][] = []
  let hook: RecordHook = (r) => [r]
  const sockets = new Set<net.Socket>()
  const server = net.createServer((client) => {
    const records: Buffer[] = []
    captured.push(records)
    const upstream = net.connect(upstreamPort, '127.0.0.1')
    for (const s of [client, upstream]) { sockets.add(s); s.on('close', () => sockets.delete(s)); s.on('error', () => {}) }
    const reader = new RecordReader((record) => {
      const copy = Buffer.from(record)
      records.push(copy)
      for (const out of hook(copy, records.length - 1)) upstream.write(out)
    })
    client.on('data', (chunk: Buffer) => { try { reader.push(chunk) } catch { upstream.destroy() } })
    upstream.pipe(client)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    captured,
    setHook: (h) => { hook = h },
    close: async () => {
      for (const s of sockets) s.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
