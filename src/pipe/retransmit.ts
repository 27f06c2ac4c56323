/**
 * Reliability across subflows. Every stream frame (OPEN, DATA, WINDOW, FIN, RESET) is a `Unit`
 * kept until the peer acknowledges the subflow frame that carried it. Each subflow numbers the
 * ack-eliciting frames it sends (1, 2, ...) and its peer acknowledges the count received (TCP
 * delivers a subflow in order, so a count is exact). When a subflow is lost, the units it carried
 * that no ACK covered go out again on the others; the receiver drops duplicates by offset.
 * DATA units keep the Buffer the local socket gave us (no copy): sealing writes elsewhere.
 */
import type { FrameType } from './frame.js'

export class Unit {
  /** Subflows this unit is in flight on (more than one with the `redundant` scheduler). */
  inFlight = 0
  acked = false

  constructor (
    readonly type: FrameType,
    readonly streamId: number,
    /** DATA: offset of the first byte; FIN: final size; WINDOW: the max offset; else -1. */
    readonly offset: number,
    readonly payload: Buffer | undefined,
  ) {}

  get bytes (): number { return this.payload?.length ?? 0 }
}

/** What one subflow sent and the peer has not acknowledged yet, oldest first. */
export class SentLog {
  private readonly frameNumbers: number[] = []
  private readonly units: Unit[] = []
  private head = 0
  /** Frames the peer acknowledged on this subflow. */
  ackedFrames = 0

  /** `frameNumber` is the subflow's ack-eliciting count after sending the unit's frame. */
  push (frameNumber: number, unit: Unit): void {
    this.frameNumbers.push(frameNumber)
    this.units.push(unit)
    unit.inFlight++
  }

  get size (): number { return this.units.length - this.head }

  /**
   * The peer received `count` frames: units up to it are acknowledged. Calls `onAcked` for each
   * unit acknowledged for the first time. Returns false for a count going backwards or beyond
   * what was sent (`sentFrames`): a protocol error.
   */
  ack (count: number, sentFrames: number, onAcked: (unit: Unit) => void): boolean {
    if (count > sentFrames || count < this.ackedFrames) return false
    if (count === this.ackedFrames) return true
    this.ackedFrames = count
    while (this.head < this.units.length && this.frameNumbers[this.head]! <= count) {
      const unit = this.units[this.head]!
      this.head++
      unit.inFlight--
      if (!unit.acked) {
        unit.acked = true
        onAcked(unit)
      }
    }
    if (this.head > 1024 && this.head * 2 > this.units.length) {
      this.units.splice(0, this.head)
      this.frameNumbers.splice(0, this.head)
      this.head = 0
    }
    return true
  }

  /** The subflow is lost: every unit not yet acknowledged that is in flight nowhere else, to send again. */
  takeUnacked (): Unit[] {
    const out: Unit[] = []
    for (let i = this.head; i < this.units.length; i++) {
      const unit = this.units[i]!
      unit.inFlight--
      if (!unit.acked && unit.inFlight === 0) out.push(unit)
    }
    this.units.length = 0
    this.frameNumbers.length = 0
    this.head = 0
    return out
  }
}
