import { LOSS_GAIN_PER_PACKET } from './constants.js'

/**
 * Loss ratio from per-path sequence numbers: each feedback says how far the receiver's highest
 * sequence moved and how many packets it actually got in that span. A global sequence would
 * blame one path for another's reordering, so this is per path only.
 */
export class LossEstimator {
  lossRatio = 0
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
  }

  /** A ratio known from elsewhere (TCP_INFO retransmits / segments). */
  setRatio (ratio: number): void {
    this.lossRatio = Math.min(1, Math.max(0, ratio))
  }
}
