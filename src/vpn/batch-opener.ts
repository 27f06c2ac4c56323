/**
 * Opens a receive batch's sealed datagrams with one addon call per receiving key (usually one
 * per batch) instead of one call per datagram. The caller marks each sealed datagram with the
 * key it names (phase 1), opens them all (phase 2), then handles every datagram in order
 * (phase 3), finishing each with VpnSession.acceptOpened: the replay check still comes after
 * authentication. Arrays are sized once to the socket's batch; nothing is allocated per datagram.
 */
import type { ReceiveKey } from '../crypto/key-ring.js'
import { SEALED_HEADER_BYTES } from './wire.js'
import type { VpnSession, OpenResult } from './session.js'

export class BatchOpener {
  /** Per datagram of the batch: the key it was opened with (undefined: not opened), its counter, and whether it authenticated. */
  readonly keys: (ReceiveKey | undefined)[]
  readonly counters: Float64Array
  readonly ok: Uint8Array
  private readonly indexes: Uint32Array
  private readonly distinct: ReceiveKey[] = []
  private count = 0

  constructor (capacity: number) {
    this.keys = new Array<ReceiveKey | undefined>(capacity).fill(undefined)
    this.counters = new Float64Array(capacity)
    this.ok = new Uint8Array(capacity)
    this.indexes = new Uint32Array(capacity)
  }

  /** Starts a batch of `count` datagrams. */
  begin (count: number): void {
    this.keys.fill(undefined, 0, Math.max(count, this.count))
    this.count = count
    this.distinct.length = 0
  }

  /** Datagram i (sealed, with this counter) is to be opened with `rx`. */
  add (i: number, counter: number, rx: ReceiveKey): void {
    this.keys[i] = rx
    this.counters[i] = counter
    this.ok[i] = 0
    let known = false
    for (let k = 0; k < this.distinct.length; k++) if (this.distinct[k] === rx) { known = true; break }
    if (!known) this.distinct.push(rx)
  }

  /** Opens every added datagram in place: datagram i is arena[offsets[i], + lengths[i]). */
  openAll (arena: Uint8Array, offsets: Uint32Array, lengths: Uint32Array): void {
    let first = 0
    for (let k = 0; k < this.distinct.length; k++) {
      const rx = this.distinct[k]!
      let n = 0
      for (let i = 0; i < this.count; i++) if (this.keys[i] === rx) this.indexes[first + n++] = i
      rx.key.openSlots(arena, offsets, lengths, this.indexes, first, n, SEALED_HEADER_BYTES, this.counters, this.ok)
      first += n
    }
  }

  /**
   * Phase 3 for sealed datagram i (buf[start, start + length), of `session`): the outcome of its open. One not opened in
   * phase 1 (too short, unknown epoch, a session that began within this batch) is opened here on
   * its own; one whose keys were replaced within the batch names keys no longer in use.
   */
  result (i: number, session: VpnSession, buf: Buffer, start: number, length: number, nowMs: number): OpenResult {
    const rx = this.keys[i]
    if (rx === undefined) return session.open(buf.subarray(start, start + length), length, nowMs)
    if (session.receiveKeyFor(buf[start + 1]!, length, nowMs) !== rx) return 'epoch'
    return this.ok[i] === 1 ? session.acceptOpened(rx, this.counters[i]!, nowMs) : 'decrypt'
  }
}
