/**
 * An in-memory stand-in for net.Socket with what SecureChannel, Multiplexer and MuxStream use:
 * writes reach the peer in order on a later microtask, as a socket's would (or go to a tap that
 * may alter them); end/destroy emit as a socket would. Fast enough to push millions of fuzz inputs through the real channel code.
 */
import { EventEmitter } from 'node:events'
import type { Socket } from 'node:net'

export class FakeSocket extends EventEmitter {
  peer: FakeSocket | undefined
  /** When set, written bytes go here instead of to the peer. */
  tap: ((data: Buffer) => void) | undefined
  destroyed = false
  connecting = false
  readableEnded = false
  writableNeedDrain = false
  private ended = false
  bytesWritten = 0

  static pair (): [FakeSocket, FakeSocket] {
    const a = new FakeSocket()
    const b = new FakeSocket()
    a.peer = b
    b.peer = a
    return [a, b]
  }

  asSocket (): Socket { return this as unknown as Socket }

  write (data: Uint8Array | string, cb?: (err?: Error) => void): boolean {
    if (this.destroyed || this.ended) return false
    const bytes = typeof data === 'string' ? Buffer.from(data) : Buffer.from(data)
    this.bytesWritten += bytes.length
    if (this.tap !== undefined) this.tap(bytes)
    else { const peer = this.peer; queueMicrotask(() => peer?.receive(bytes)) }
    if (cb !== undefined) queueMicrotask(() => cb())
    return true
  }

  /** Bytes arriving from the network. */
  receive (bytes: Buffer): void {
    if (!this.destroyed && !this.readableEnded) this.emit('data', bytes)
  }

  end (): this {
    if (this.ended || this.destroyed) return this
    this.ended = true
    const peer = this.peer
    queueMicrotask(() => {
      if (peer !== undefined && !peer.destroyed && !peer.readableEnded) { peer.readableEnded = true; peer.emit('end') }
      if (peer === undefined || peer.ended) { this.destroy(); peer?.destroy() }
    })
    return this
  }

  destroy (error?: Error): this {
    if (this.destroyed) return this
    this.destroyed = true
    queueMicrotask(() => {
      if (error !== undefined) this.emit('error', error)
      this.emit('close', error !== undefined)
      this.peer?.destroy()
    })
    return this
  }

  resetAndDestroy (): this { return this.destroy() }
  setNoDelay (): this { return this }
  setTimeout (): this { return this }
  pause (): this { return this }
  resume (): this { return this }
}
