import type { EventQueue } from './event-queue.js'

export interface LinkSpec {
  rateBitsPerSec: number
  delayMs: number
  jitterMs: number
  queuePackets: number
  lossRatio: number
}

/**
 * One direction of an emulated link: a droptail queue in front of a serialiser at a fixed rate,
 * then a propagation delay with jitter (order kept, as on a real link), random loss, and a
 * switch that blackholes everything while the link is cut.
 */
export class Link<P> {
  isCut = false
  deliveredBytes = 0
  dropped = 0
  private busyUntilMs = 0
  private lastArrivalMs = 0
  private readonly departures: number[] = []
  private departHead = 0

  constructor (
    readonly name: string,
    readonly spec: LinkSpec,
    private readonly events: EventQueue,
    private readonly random: () => number,
    private readonly onArrive: (packet: P, bytes: number) => void,
  ) {}

  /** Packets waiting in (or being serialised by) the droptail queue now. */
  queuedPackets (): number {
    const now = this.events.nowMs
    while (this.departHead < this.departures.length && this.departures[this.departHead]! <= now) this.departHead++
    return this.departures.length - this.departHead
  }

  send (packet: P, bytes: number): void {
    const now = this.events.nowMs
    while (this.departHead < this.departures.length && this.departures[this.departHead]! <= now) this.departHead++
    if (this.departHead > 4096) { this.departures.splice(0, this.departHead); this.departHead = 0 }
    if (this.departures.length - this.departHead >= this.spec.queuePackets) { this.dropped++; return }
    const start = Math.max(now, this.busyUntilMs)
    const departMs = start + (bytes * 8000) / this.spec.rateBitsPerSec
    this.busyUntilMs = departMs
    this.departures.push(departMs)
    if (this.isCut || (this.spec.lossRatio > 0 && this.random() < this.spec.lossRatio)) { this.dropped++; return }
    const jitter = this.spec.jitterMs > 0 ? this.random() * this.spec.jitterMs : 0
    const arriveMs = Math.max(departMs + this.spec.delayMs + jitter, this.lastArrivalMs)
    this.lastArrivalMs = arriveMs
    this.events.at(arriveMs, () => {
      if (this.isCut) { this.dropped++; return } // in flight when the link was cut
      this.deliveredBytes += bytes
      this.onArrive(packet, bytes)
    })
  }
}
