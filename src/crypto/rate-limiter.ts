/**
 * Token buckets per source (an address string), so one noisy source cannot starve others of
 * handshakes. Bounded: idle full buckets are forgotten first. Time is passed in.
 */
export interface RateLimiterOptions {
  /** Sustained rate per source. */
  perSecond: number
  /** Burst allowed per source. */
  burst: number
  /** Sources tracked at once (our choice: 16k, about 1 MiB). */
  maxSources?: number
}

interface Bucket { tokens: number, updatedMs: number }

export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly maxSources: number

  constructor (private readonly options: RateLimiterOptions) {
    this.maxSources = options.maxSources ?? 16_384
  }

  /** Takes one token for `source` at `nowMs`; false when the source is over its rate. */
  allow (source: string, nowMs: number): boolean {
    let bucket = this.buckets.get(source)
    if (bucket === undefined) {
      if (this.buckets.size >= this.maxSources) this.evict(nowMs)
      bucket = { tokens: this.options.burst, updatedMs: nowMs }
      this.buckets.set(source, bucket)
    } else {
      const elapsedS = Math.max(0, nowMs - bucket.updatedMs) / 1000
      bucket.tokens = Math.min(this.options.burst, bucket.tokens + elapsedS * this.options.perSecond)
      bucket.updatedMs = nowMs
    }
    if (bucket.tokens < 1) return false
    bucket.tokens -= 1
    return true
  }

  private evict (nowMs: number): void {
    const refillMs = (this.options.burst / this.options.perSecond) * 1000
    for (const [source, bucket] of this.buckets) {
      if (nowMs - bucket.updatedMs >= refillMs) this.buckets.delete(source)
    }
    // Everyone is active: drop the oldest entry (Map keeps insertion order).
    if (this.buckets.size >= this.maxSources) {
      const oldest = this.buckets.keys().next().value
      if (oldest !== undefined) this.buckets.delete(oldest)
    }
  }
}
