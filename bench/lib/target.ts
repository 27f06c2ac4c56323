/**
 * The benchmark's target, run as its own process so it never shares an event loop with the relay
 * under test. Two listeners on loopback:
 *   sink:  reads and counts, and on
 *          each connection's end prints {"event":"sink","bytes","firstMs","lastMs"} on stdout;
 *   reply: for every REQUEST_BYTES received, answers RESPONSE_BYTES (an echo-like RPC server).
 * First line on stdout: {"sinkPort","replyPort","pid"}. Exits when stdin closes.
 */
import net from 'node:net'
import type { AddressInfo } from 'node:net'

import { REQUEST_BYTES, RESPONSE_BYTES } from './rpc.js'

const response = Buffer.alloc(RESPONSE_BYTES, 0x61)
const wallMs = (): number => performance.timeOrigin + performance.now()

function startSink (): net.Server {
  return net.createServer((socket) => {
    let bytes = 0
    let firstMs = 0
    let lastMs = 0
    socket.on('data', (chunk: Buffer) => {
      if (bytes === 0) firstMs = wallMs()
      bytes += chunk.length
      lastMs = wallMs()
    })
    socket.on('error', () => {})
    socket.on('end', () => {
      process.stdout.write(JSON.stringify({ event: 'sink', bytes, firstMs, lastMs }) + '\n')
    })
  })
}

function startReply (): net.Server {
  return net.createServer((socket) => {
    let buffered = 0
    socket.setNoDelay(true)
    socket.on('error', () => {})
    socket.on('data', (chunk: Buffer) => {
      buffered += chunk.length
      while (buffered >= REQUEST_BYTES) {
        buffered -= REQUEST_BYTES
        socket.write(response)
      }
    })
  })
}

async function listen (server: net.Server): Promise<number> {
  server.maxConnections = 1 << 20
  await new Promise<void>((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve))
  return (server.address() as AddressInfo).port
}

async function main (): Promise<void> {
  const sink = startSink()
  const reply = startReply()
  const [sinkPort, replyPort] = [await listen(sink), await listen(reply)]
  process.stdout.write(JSON.stringify({ sinkPort, replyPort, pid: process.pid }) + '\n')
  process.stdin.on('end', () => process.exit(0))
  process.stdin.on('error', () => process.exit(0))
  process.stdin.resume()
}

void main()
