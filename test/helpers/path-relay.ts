// A TCP relay in front of a pipe server that plays the links of a multipath client: it knows
// each connection by the client's source address (its path), can cut a path (destroy its
// connections), blackhole it (stop forwarding both ways, connections left open: bytes wait, as
// on a dead link), and keeps the first record of every connection (the HELLO) for replay tests.
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { RecordReader } from '../../src/pipe/record.js'

export interface PathRelay {
  port: number
  /** Each connection's first client record (a HELLO), with the client's source address, in order. */
  hellos: Array<{ source: string, record: Buffer }>
  /** Bytes forwarded from the client, by source address. */
  bytesFrom: Map<string, number>
  /** Connections from `source` stop forwarding (and new ones start stopped) until restored. */
  blackhole(source: string, on: boolean): void
  /** Destroys every connection from `source` now (a cut link; the client may dial again). */
  cut(source: string): void
  /** Open connections, from `source` or all. */
  connections(source?: string): number
  close(): Promise<void>
}

interface Link { source: string, client: net.Socket, upstream: net.Socket }

export async function startPathRelay (upstreamPort: number): Promise<PathRelay> {
  const links = new Set<Link>()
  const holed = new Set<string>()
  const hellos: PathRelay['hellos'] = []
  const bytesFrom = new Map<string, number>()
  const setFlow = (link: Link): void => {
    if (holed.has(link.source)) { link.client.pause(); link.upstream.pause() } else { link.client.resume(); link.upstream.resume() }
  }
  const server = net.createServer((client) => {
    const source = client.remoteAddress ?? '?'
    const upstream = net.connect(upstreamPort, '127.0.0.1')
    const link: Link = { source, client, upstream }
    links.add(link)
    let first = true
    const reader = new RecordReader((record) => {
      if (first) { first = false; hellos.push({ source, record: Buffer.from(record) }) }
    })
    client.on('data', (chunk: Buffer) => {
      if (first) { try { reader.push(chunk) } catch { first = false } }
      bytesFrom.set(source, (bytesFrom.get(source) ?? 0) + chunk.length)
      if (!upstream.write(chunk)) { client.pause(); upstream.once('drain', () => setFlow(link)) }
    })
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) { upstream.pause(); client.once('drain', () => setFlow(link)) }
    })
    for (const s of [client, upstream]) s.on('error', () => {})
    client.on('end', () => upstream.end())
    upstream.on('end', () => client.end())
    client.on('close', () => { upstream.destroy(); links.delete(link) })
    upstream.on('close', () => client.destroy())
    setFlow(link)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    hellos,
    bytesFrom,
    blackhole (source, on) {
      if (on) holed.add(source)
      else holed.delete(source)
      for (const link of links) if (link.source === source) setFlow(link)
    },
    cut (source) {
      for (const link of links) if (link.source === source) { link.client.destroy(); link.upstream.destroy() }
    },
    connections: (source) => [...links].filter((l) => source === undefined || l.source === source).length,
    close: async () => {
      for (const link of links) { link.client.destroy(); link.upstream.destroy() }
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}
