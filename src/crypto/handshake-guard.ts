/**
 * Rejects replayed handshakes without synchronised clocks: each client id's handshakes must carry
 * strictly increasing timestamps. State is per client id (many clients may share a key, and one
 * client's clock must never lock out another), bounded by evicting the least recently seen.
 */
import { isNewerTimestamp } from './tai64n.js'

/** Our choice: 64k clients remembered, about 4 MiB at most. */
export const DEFAULT_MAX_CLIENTS = 65_536

export class HandshakeReplayGuard {
  private readonly lastByClient = new Map<string, Buffer>()

  constructor (private readonly maxClients = DEFAULT_MAX_CLIENTS) {}

  /** Records and accepts the timestamp if it is newer than this client's last one. */
  accept (clientId: Uint8Array, timestamp: Uint8Array): boolean {
    const id = Buffer.from(clientId).toString('hex')
    const last = this.lastByClient.get(id)
    if (last !== undefined && !isNewerTimestamp(timestamp, last)) return false
    this.lastByClient.delete(id) // re-insert: Map order is our LRU order
    this.lastByClient.set(id, Buffer.from(timestamp))
    if (this.lastByClient.size > this.maxClients) {
      const oldest = this.lastByClient.keys().next().value
      if (oldest !== undefined) this.lastByClient.delete(oldest)
    }
    return true
  }

  get size (): number { return this.lastByClient.size }
}
