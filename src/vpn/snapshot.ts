/** Plain-data views of a VPN peer for `show` (read-only; allocates, so not for the hot path). */
import type { Peer } from './peer.js'

export interface VpnPathSnapshot {
  id: number
  name: string
  /** Remote address as last seen (server) or configured (client). */
  remote: string
  local: string
  state: 'probing' | 'up' | 'degraded' | 'down' | 'backup'
  rttMs: number | null
  lossPct: number
  rateBitsPerSec: number | null
  /** Outer path MTU (confirmed, or the size being planned with while searching). */
  mtuBytes: number
  bytesIn: number
  bytesOut: number
  packetsIn: number
  packetsOut: number
}

export interface VpnPeerSnapshot {
  id: string
  peer: string
  state: 'up' | 'handshake'
  sinceMs: number
  rekeys: number
  bytesIn: number
  bytesOut: number
  innerMtuBytes: number
  paths: VpnPathSnapshot[]
  counters: Peer['counters']
  reorder: Peer['reorder']['stats']
}

export function snapshotPeer (peer: Peer, id: string, peerName: string, sinceMs: number, addressOf: (pathId: number) => { local: string, remote: string }): VpnPeerSnapshot {
  const paths: VpnPathSnapshot[] = peer.active.map((path) => {
    const receiver = peer.receivers[path.id]
    const { local, remote } = addressOf(path.id)
    return {
      id: path.id,
      name: path.name,
      local,
      remote,
      state: path.state,
      rttMs: path.rtt.srttMs > 0 ? path.rtt.srttMs : null,
      lossPct: 100 * path.loss.lossRatio,
      rateBitsPerSec: path.rate.hasEstimate() ? path.planningRateBitsPerSec() : null,
      mtuBytes: peer.pmtu[path.id]?.usableBytes ?? 0,
      bytesIn: receiver?.receivedBytes ?? 0,
      bytesOut: path.counters.txBytes,
      packetsIn: receiver?.receivedPackets ?? 0,
      packetsOut: path.counters.txPackets,
    }
  })
  return {
    id,
    peer: peerName,
    state: peer.session !== undefined ? 'up' : 'handshake',
    sinceMs,
    rekeys: peer.session?.rotations ?? 0,
    bytesIn: peer.counters.rxBytes,
    bytesOut: peer.counters.txBytes,
    innerMtuBytes: peer.innerMtuBytes,
    paths,
    counters: { ...peer.counters },
    reorder: { ...peer.reorder.stats },
  }
}
