/**
 * The soak's unit of load: one TCP stream to an echo server, checked byte for byte. It sends a
 * random amount, half-closes, reads the echo to the end and compares length and SHA-256. Used by
 * the pipe soak (bench/soak.ts) in-process and by the VPN soak's load process inside a namespace
 * (bench/soak-vpn-load.ts).
 */
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'

/** Counts of checked streams; a mismatch is a stream whose bytes came back different. */
export class StreamTally {
  ok = 0
  bytes = 0
  mismatches = 0
  readonly errors = new Map<string, number>()

  countError (kind: string): void { this.errors.set(kind, (this.errors.get(kind) ?? 0) + 1) }

  toJSON (): { ok: number, bytes: number, mismatches: number, errors: Record<string, number> } {
    return { ok: this.ok, bytes: this.bytes, mismatches: this.mismatches, errors: Object.fromEntries(this.errors) }
  }
}

/** A size from 1 byte to maxBytes, log-uniform: many small streams, a few large ones. */
export function logUniformSize (maxBytes: number): number {
  return Math.max(1, Math.floor(Math.exp(Math.random() * Math.log(maxBytes))))
}

/**
 * One stream of `bytes` random bytes through host:port, counted in `tally`. A stream that fails
 * during a fault (refused, reset, cut short, timed out) is an error by kind, not a mismatch.
 */
export async function checkedStream (tally: StreamTally, host: string, port: number, bytes: number, timeoutMs = 60_000): Promise<void> {
  const payload = randomBytes(bytes)
  const sent = createHash('sha256').update(payload).digest('hex')
  await new Promise<void>((resolve) => {
    const hash = createHash('sha256')
    let received = 0
    let settled = false
    const finish = (kind?: string): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      s.destroy()
      if (kind !== undefined) tally.countError(kind)
      resolve()
    }
    const s = net.connect(port, host, () => {
      let at = 0
      const pump = (): void => {
        while (at < payload.length) {
          const chunk = payload.subarray(at, at + 65_536)
          at += chunk.length
          if (!s.write(chunk)) { s.once('drain', pump); return }
        }
        s.end()
      }
      pump()
    })
    const timer = setTimeout(() => finish(`timeout (${timeoutMs / 1000} s)`), timeoutMs)
    s.on('data', (d: Buffer) => { received += d.length; hash.update(d) })
    s.on('end', () => {
      if (received !== bytes) { finish(received === 0 ? 'closed before any byte came back' : 'cut short (fewer bytes back, no corruption check)'); return }
      if (hash.digest('hex') !== sent) { tally.mismatches++; finish('MISMATCH: bytes came back different'); return }
      tally.ok++
      tally.bytes += bytes
      finish()
    })
    s.on('error', (err: NodeJS.ErrnoException) => finish(`socket ${err.code ?? err.message}`))
  })
}
