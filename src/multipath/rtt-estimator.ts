import { RTT_ALPHA, RTT_BETA, RTT_K, MIN_FILTER_WINDOW_MS } from './constants.js'
import { WindowedMin } from './windowed-min.js'

/**
 * Smoothed RTT and variance (RFC 6298) plus a windowed minimum. Takes plain samples, so the
 * VPN feeds it from its own feedback and the TCP pipe from TCP_INFO.
 */
export class RttEstimator {
  srttMs = 0
  rttVarMs = 0
  latestRttMs = 0
  minRttMs = Infinity
  private readonly minFilter = new WindowedMin(MIN_FILTER_WINDOW_MS)
  samples = 0

  /**
   * `minCandidateMs` (default `rttMs`) is what the sample says about the path's propagation: the
   * caller may take out time it knows the sample spent in its own queue.
   */
  addSample (rttMs: number, nowMs: number, minCandidateMs = rttMs): void {
    if (!(rttMs >= 0) || !Number.isFinite(rttMs)) return
    this.latestRttMs = rttMs
    if (this.samples === 0) {
      this.srttMs = rttMs
      this.rttVarMs = rttMs / 2
    } else {
      this.rttVarMs = (1 - RTT_BETA) * this.rttVarMs + RTT_BETA * Math.abs(this.srttMs - rttMs)
      this.srttMs = (1 - RTT_ALPHA) * this.srttMs + RTT_ALPHA * rttMs
    }
    this.samples++
    // A minimum older than the window may belong to a route that no longer exists.
    this.minFilter.add(Number.isFinite(minCandidateMs) ? Math.max(0, minCandidateMs) : rttMs, nowMs)
    this.minRttMs = this.minFilter.value
  }

  /** Samples known directly as smoothed values (TCP_INFO tcpi_rtt / tcpi_rttvar). */
  setSmoothed (srttMs: number, rttVarMs: number, nowMs: number): void {
    this.addSample(srttMs, nowMs)
    this.srttMs = srttMs
    this.rttVarMs = rttVarMs
  }

  hasSample (): boolean { return this.samples > 0 }

  /** RFC 6298 retransmission timeout, without its 1 s floor (callers add their own). */
  rtoMs (): number { return this.srttMs + RTT_K * this.rttVarMs }
}
