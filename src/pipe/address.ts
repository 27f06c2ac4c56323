/** `HOST:PORT` parsing for listen, server and target arguments (IPv6 as `[::1]:443`), and listening. */
import type { Server, AddressInfo } from 'node:net'
import { UsageError } from '../errors.js'

export interface HostPort {
  host: string
  port: number
}

export function parseHostPort (text: string, what: string, defaultHost?: string): HostPort {
  const trimmed = text.trim()
  let host: string
  let portText: string
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(trimmed)
  if (bracketed) {
    host = bracketed[1]!
    portText = bracketed[2]!
  } else if (/^\d+$/.test(trimmed) && defaultHost !== undefined) {
    host = defaultHost
    portText = trimmed
  } else {
    const colon = trimmed.lastIndexOf(':')
    if (colon <= 0 || trimmed.indexOf(':') !== colon) {
      throw new UsageError(`${what} "${text}" is not HOST:PORT (write IPv6 addresses as [::1]:PORT)`)
    }
    host = trimmed.slice(0, colon)
    portText = trimmed.slice(colon + 1)
  }
  const port = Number(portText)
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) throw new UsageError(`${what} "${text}": port must be 1-65535`)
  return { host, port }
}

export function formatHostPort ({ host, port }: HostPort): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}

/** Listens on `at`; resolves with the bound address (port 0 picks a free one), rejects on EADDRINUSE etc. */
export async function listenOn (server: Server, at: HostPort): Promise<AddressInfo> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(at.port, at.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server.address() as AddressInfo
}
