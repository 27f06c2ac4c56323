// Starts an echo target, a PipeServer and PipeClient on loopback for one test, and tears them down.
import type net from 'node:net'
import { PipeServer, PipeClient, type PipeTunables } from '../../src/pipe/index.js'
import { generateKey } from '../../src/crypto/key.js'
import { startEchoServer, MemoryLogger } from '../helpers/net.js'

export interface PipeFixture {
  key: Buffer
  echo: { server: net.Server, port: number }
  server: PipeServer
  serverPort: number
  serverLog: MemoryLogger
  clients: Array<{ client: PipeClient, port: number, log: MemoryLogger }>
  addClient(options?: { key?: Buffer, serverPort?: number, tunables?: Partial<PipeTunables>, wait?: boolean }): Promise<{ client: PipeClient, port: number, log: MemoryLogger }>
  close(): Promise<void>
}

export async function startPipe (tunables: Partial<PipeTunables> = {}): Promise<PipeFixture> {
  const key = generateKey()
  const echo = await startEchoServer()
  const serverLog = new MemoryLogger()
  const server = new PipeServer({ listen: { host: '127.0.0.1', port: 0 }, target: { host: '127.0.0.1', port: echo.port }, keys: [key], log: serverLog, tunables })
  const serverPort = (await server.start()).port
  const fixture: PipeFixture = {
    key, echo, server, serverPort, serverLog, clients: [],
    async addClient (options = {}) {
      const log = new MemoryLogger()
      const client = new PipeClient({
        listen: { host: '127.0.0.1', port: 0 },
        server: { host: '127.0.0.1', port: options.serverPort ?? serverPort },
        key: options.key ?? key,
        log,
        tunables: { ...tunables, ...options.tunables },
      })
      const port = (await client.start()).port
      if (options.wait !== false) await client.untilUp()
      const entry = { client, port, log }
      fixture.clients.push(entry)
      return entry
    },
    async close () {
      for (const c of fixture.clients) await c.client.close()
      await server.close()
      echo.server.close()
    },
  }
  return fixture
}
