/**
 * In-band path MTU discovery (in the spirit of RFC 8899, DPLPMTUD): probes of a chosen size are
 * sent with DF set and padded; an answer proves the size fits, silence after a few tries proves
 * it does not. A binary search between a floor that always works and the local interface's MTU
 * settles in about log2(range/granularity) rounds, then re-checks now and then so a path whose
 * MTU grows is noticed. Pure: `nowMs` is passed in; the caller sends what `probeDue` asks for.
 */

/** RFC 8899 section 5.1.2: IPv4's minimum datagram every path must carry (our floor for IPv4). */
export const IPV4_MIN_MTU = 576
/** RFC 8200 section 5: the minimum link MTU of IPv6. */
export const IPV6_MIN_MTU = 1280
/** Our choice: stop searching when the bracket is narrower than this. */
const GRANULARITY_BYTES = 8
/** RFC 8899 MAX_PROBES. */
const MAX_PROBES = 3
/** Our choice: re-check a settled path this often (RFC 8899 suggests 600 s). */
const RESEARCH_INTERVAL_MS = 600_000

export interface PmtuOptions {
  /** Largest outer packet worth trying (the local interface's MTU). */
  maxBytes: number
  /** Smallest outer packet assumed to always work. */
  minBytes: number
  /** Start from this size (e.g. a configured --mtu) instead of searching. */
  fixedBytes?: number
}

export class PmtuSearch {
  /** Largest outer packet size confirmed to arrive. */
  confirmedBytes: number
  private lo: number
  private hi: number
  private probing = 0
  private probesSent = 0
  private lastProbeMs = -Infinity
  private settledAtMs = -Infinity
  readonly fixed: boolean

  constructor (private readonly options: PmtuOptions) {
    this.fixed = options.fixedBytes !== undefined
    this.confirmedBytes = options.fixedBytes ?? options.minBytes
    this.lo = this.confirmedBytes
    this.hi = options.fixedBytes ?? options.maxBytes
  }

  get isSettled (): boolean { return this.fixed || this.hi - this.lo < GRANULARITY_BYTES }

  /**
   * The size to plan with: the confirmed size once settled; while searching, the largest size
   * not yet disproved (optimistic, so a search in progress never shrinks the MTU for nothing).
   */
  get usableBytes (): number { return this.isSettled ? this.confirmedBytes : this.hi }

  /** The probe size to send now, or 0. `retryMs` is how long to wait for an answer (a few RTTs). */
  probeDue (nowMs: number, retryMs: number): number {
    if (this.fixed) return 0
    if (this.isSettled) {
      if (nowMs - this.settledAtMs < RESEARCH_INTERVAL_MS) return 0
      // Look again above what we have.
      this.hi = this.options.maxBytes
    }
    if (this.probing !== 0) {
      if (nowMs - this.lastProbeMs < retryMs) return 0
      if (this.probesSent >= MAX_PROBES) {
        // Silence: too big.
        this.hi = this.probing - 1
        this.probing = 0
        this.probesSent = 0
        if (this.isSettled) { this.settledAtMs = nowMs; return 0 }
      }
    }
    // The first probe of a search tries the top: most paths carry the interface's full MTU.
    if (this.probing === 0) this.probing = this.hi === this.options.maxBytes && this.lo < this.hi ? this.hi : Math.ceil((this.lo + this.hi + 1) / 2)
    this.probesSent++
    this.lastProbeMs = nowMs
    return this.probing
  }

  /** A probe of `bytes` was answered. */
  onProbeAnswered (bytes: number, nowMs: number): void {
    if (bytes > this.confirmedBytes) this.confirmedBytes = bytes
    if (bytes > this.lo) this.lo = Math.min(bytes, this.hi)
    if (bytes >= this.hi) this.lo = this.hi
    if (bytes === this.probing) { this.probing = 0; this.probesSent = 0 }
    if (this.isSettled) this.settledAtMs = nowMs
  }

  /** The network refused a size locally (EMSGSIZE) or a big data packet keeps vanishing: shrink. */
  onTooBig (bytes: number, nowMs: number): void {
    if (this.fixed) return
    this.hi = Math.max(this.options.minBytes, Math.min(this.hi, bytes - 1))
    if (this.confirmedBytes > this.hi) this.confirmedBytes = this.hi
    this.lo = Math.min(this.lo, this.hi)
    this.probing = 0
    this.probesSent = 0
    this.settledAtMs = nowMs
  }
}
