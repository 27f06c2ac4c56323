/**
 * Discrete-event core: a binary heap of (time, insertion order) so runs are deterministic,
 * and a seeded PRNG (mulberry32) so every random draw is reproducible.
 */
export type EventFn = () => void

export class EventQueue {
  nowMs = 0
  private times: number[] = []
  private orders: number[] = []
  private fns: EventFn[] = []
  private counter = 0

  get size (): number { return this.fns.length }

  at (timeMs: number, fn: EventFn): void {
    const t = Math.max(timeMs, this.nowMs)
    this.times.push(t)
    this.orders.push(this.counter++)
    this.fns.push(fn)
    this.up(this.fns.length - 1)
  }

  after (delayMs: number, fn: EventFn): void { this.at(this.nowMs + delayMs, fn) }

  /** Runs events until the queue is empty or the next one is after `untilMs`. */
  run (untilMs: number): void {
    while (this.fns.length > 0 && this.times[0]! <= untilMs) {
      const t = this.times[0]!
      const fn = this.fns[0]!
      this.pop()
      this.nowMs = t
      fn()
    }
    this.nowMs = untilMs
  }

  private less (a: number, b: number): boolean {
    return this.times[a]! < this.times[b]! || (this.times[a] === this.times[b] && this.orders[a]! < this.orders[b]!)
  }

  private swap (a: number, b: number): void {
    const t = this.times[a]!; this.times[a] = this.times[b]!; this.times[b] = t
    const o = this.orders[a]!; this.orders[a] = this.orders[b]!; this.orders[b] = o
    const f = this.fns[a]!; this.fns[a] = this.fns[b]!; this.fns[b] = f
  }

  private up (i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      this.swap(i, parent)
      i = parent
    }
  }

  private pop (): void {
    const last = this.fns.length - 1
    this.swap(0, last)
    this.times.pop(); this.orders.pop(); this.fns.pop()
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < this.fns.length && this.less(l, m)) m = l
      if (r < this.fns.length && this.less(r, m)) m = r
      if (m === i) break
      this.swap(i, m)
      i = m
    }
  }
}

export { seededRandom } from '../../test/helpers/seeded-random.js'
