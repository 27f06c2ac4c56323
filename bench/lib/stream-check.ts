/**
 * Many streams checked byte for byte, run as its own process inside a lab namespace:
 *
 *   node stream-check.js echo BIND PORT
 *     An echo server (half-close aware: it echoes everything, then ends). Prints "listening".
 *   node stream-check.js run HOST PORT COUNT MAX_BYTES SEED [SPREAD_MS]
 *     COUNT concurrent connections, each starting at a random moment within SPREAD_MS [0]; each
 *     sends a random number of bytes in [1, MAX_BYTES] (uniform for even streams, log-uniform for
 *     odd ones: many small, a few large) of random content, ends its side, reads the echo to the
 *     end and compares length and sha256. Sizes and start times come
 *     from SEED (reproducible); the content is fresh randomness. Prints one JSON line:
 *     {"streams", "ok", "bytes", "ms", "failed": [{"stream", "size", "received", "why"}]}.
 */
import net from 'node:net'
import { createHash, randomBytes } from 'node:crypto'
import { seededRandom as prng } from '../../test/helpers/seeded-random.js'

const [mode, host, portText, countText, maxText, seedText, spreadText] = process.argv.slice(2)
const CHUNK = 64 * 1024
const POOL = randomBytes(1024 * 1024 + CHUNK)


interface Outcome { stream: number, size: number, received: number, why?: string }

async function oneStream (i: number, size: number, port: number): Promise<Outcome> {
  return await new Promise<Outcome>((resolve) => {
    const sent = createHash('sha256')
    const got = createHash('sha256')
    let received = 0
    let written = 0
    let done = false
    const finish = (why?: string): void => {
      if (done) return
      done = true
      socket.destroy()
      resolve({ stream: i, size, received, ...(why !== undefined ? { why } : {}) })
    }
    const socket = net.connect({ host: host!, port })
    const pump = (): void => {
      while (written < size) {
        const n = Math.min(CHUNK, size - written)
        const offset = Math.floor(Math.random() * (POOL.length - n))
        const chunk = POOL.subarray(offset, offset + n)
        sent.update(chunk)
        written += n
        if (!socket.write(chunk)) return
      }
      socket.end()
    }
    socket.on('connect', pump)
    socket.on('drain', () => { if (written < size) pump() })
    socket.on('data', (chunk: Buffer) => { received += chunk.length; got.update(chunk) })
    socket.on('end', () => {
      if (received !== size) finish(`echoed ${received} of ${size} bytes`)
      else if (sent.digest('hex') !== got.digest('hex')) finish('echo differs (sha256)')
      else finish()
    })
    socket.on('error', (e) => finish(`error: ${e.message}`))
    socket.on('close', () => finish(`closed after ${received} of ${size} bytes`))
  })
}

async function run (): Promise<void> {
  const port = Number(portText)
  const random = prng(Number(seedText))
  const count = Number(countText)
  const max = Number(maxText)
  const spreadMs = Number(spreadText ?? 0)
  const started = performance.now()
  const outcomes = await Promise.all(Array.from({ length: count }, async (_, i) => {
    const size = Math.max(1, Math.floor(i % 2 === 0 ? random() * max : Math.exp(random() * Math.log(max))))
    await new Promise((resolve) => setTimeout(resolve, random() * spreadMs))
    return await oneStream(i, size, port)
  }))
  const failed = outcomes.filter((o) => o.why !== undefined)
  console.log(JSON.stringify({
    streams: count, ok: count - failed.length, bytes: outcomes.reduce((a, o) => a + o.size, 0), ms: Math.round(performance.now() - started), failed,
  }))
}

if (mode === 'echo') {
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on('error', () => socket.destroy())
    socket.pipe(socket)
  })
  server.listen(Number(portText), host, () => console.log('listening'))
} else if (mode === 'run') {
  await run()
} else {
  console.error('usage: stream-check echo BIND PORT | run HOST PORT COUNT MAX_BYTES SEED [SPREAD_MS]')
  process.exit(2)
}
