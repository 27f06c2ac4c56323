// Unit tests of the VPN's Peer need paths in a known steady state; one way to put them there.
import type { Peer } from '../../src/vpn/peer.js'

/** Puts path `id` of `peer` up, out of rate startup, with a known RTT, one-way delay and rate. */
export function settledPath (peer: Peer, id: number, oneWayMs: number, rateBitsPerSec: number): NonNullable<ReturnType<Peer['path']>> {
  const p = peer.path(id)!
  p.state = 'up'
  p.addRttSample(2 * oneWayMs, 0)
  p.delay.addSample(0, oneWayMs, 0)
  p.addDeliveryRateSample(rateBitsPerSec, 0)
  p.rate.inStartup = false
  p.rate.gain = 1
  p.pacer.setRate(p.planningRateBitsPerSec(), 0)
  return p
}
