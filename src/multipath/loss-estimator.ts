import { LOSS_GAIN_PER_PACKET } from './constants.js'

/**
 * Our choice: the steady ratio's memory in packets. At 5 % loss LOSS_GAIN_PER_PACKET's 128
 * packets hold about six losses, and FEC's group size taken from it swung between 5 and 15
 * (when k was sized for 0.5 losses per group; parity cost is convex in 1/k: 1.2 Mbit/s of l2's
 * 9.5 where a steady k = 9 would have cost 0.95).
 */
export const LOSS_STEADY_PACKETS = 2048

/**
 * Loss ratio from per-path sequence numbers: each feedback says how far the receiver's highest
 * sequence moved and how many packets it actually got in that span. A global sequence would
 * blame one path for another's reordering, so this is per path only.
 */
export class LossEstimator {
  lossRatio = 0
  /**
   * The same ratio over about LOSS_STEADY_PACKETS (the plain average until that many were
   * expected): too slow to say a path started losing, steady enough to size FEC by.
   */
  steadyRatio = 0
  lostPackets = 0
  expectedPackets = 0

  /** `expected` packets were due in the span this feedback covers, `received` of them arrived. */
  addSpan (expected: number, received: number): void {
    if (expected <= 0) return
    const lost = Math.max(0, expected - received)
    this.lostPackets += lost
    this.expectedPackets += expected
    // EWMA per packet: a span of n packets moves the estimate as n single-packet updates would.
    const weight = 1 - Math.pow(1 - LOSS_GAIN_PER_PACKET, expected)
    this.lossRatio += (lost / expected - this.lossRatio) * weight
    const steadyWeight = Math.max(1 - Math.pow(1 - 1 / LOSS_STEADY_PACKETS, expected), expected / this.expectedPackets)
    this.steadyRatio += (lost / expected - this.steadyRatio) * Math.min(1, steadyWeight)
  }

  /** A ratio known from elsewhere (TCP_INFO retransmits / segments). */
  setRatio (ratio: number): void {
    this.lossRatio = Math.min(1, Math.max(0, ratio))
    this.steadyRatio = this.lossRatio
  }
}
