// node dist/bench/aead.js — ChaCha20-Poly1305 per record, three ways, on one core:
//   sodium   src/crypto/aead.ts AeadKey.sealInPlace/openInPlace (libsodium, in place)
//   node     src/crypto/aead.ts AeadKey.sealPieces/openToBuffer (node:crypto, new buffers)
//   native   src/native/aead.ts NativeAead.sealInPlace/openInPlace (OpenSSL EVP, in place)
//   slots    NativeAead.sealSlots, 64 records per call (the VPN's batch shape)
// Sizes are plaintext bytes; every record also authenticates AD_BYTES of header. "seal" seals
// one record per call; "seal+open" seals it and opens it again (a record opened in place is
// plaintext, so opening alone cannot be repeated on the same bytes without a copy). Throughput
// is plaintext bytes per CPU second (process.cpuUsage: user + system), so a busy neighbour on
// the machine slows the wall clock but not the figures much.
import sodium from 'sodium-native'
import { benchArgs } from './lib/bench-args.js'
import { AeadKey, TAG_BYTES } from '../src/crypto/aead.js'
import { NativeAead, isNativeAeadAvailable, nativeAeadVersion } from '../src/native/index.js'

benchArgs('node dist/bench/aead.js (no options)', {})

const SIZES = [64, 1400, 16384, 65536]
const AD_BYTES = 16
const TARGET_CPU_MS = 300   // per cell, after calibration
const SLOT_BATCH = 64

interface Cell { nsPerCall: number, gbPerSec: number }

function cpuNs (): number {
  const { user, system } = process.cpuUsage()
  return (user + system) * 1000
}

/** Runs fn(i) until about TARGET_CPU_MS of CPU time; `callsPerRun` records are done per call. */
function measure (size: number, callsPerRun: number, fn: (i: number) => void): Cell {
  let counter = 0
  for (let i = 0; i < 200; i++) fn(counter++)  // warm-up: JIT and caches
  let runs = 16
  for (;;) {
    const start = cpuNs()
    for (let i = 0; i < runs; i++) fn(counter++)
    const spent = cpuNs() - start
    if (spent >= TARGET_CPU_MS * 1e6 || runs >= 2 ** 26) {
      const records = runs * callsPerRun
      return { nsPerCall: spent / records, gbPerSec: (size * records) / spent }
    }
    // cpuUsage ticks coarsely: grow fast until the run is long enough to trust.
    runs = spent < 1e6 ? runs * 16 : Math.ceil(runs * Math.min(16, (TARGET_CPU_MS * 1.1e6) / spent))
  }
}

function record (size: number): { buf: Buffer, adEnd: number, textEnd: number } {
  const buf = Buffer.alloc(AD_BYTES + size + TAG_BYTES)
  sodium.randombytes_buf(buf)
  return { buf, adEnd: AD_BYTES, textEnd: AD_BYTES + size }
}

function main (): void {
  if (!isNativeAeadAvailable()) {
    console.error('aead bench: the native addon is not built (run `npm install`, which builds it with node-gyp)')
    process.exitCode = 1
    return
  }
  const key = Buffer.alloc(32)
  sodium.randombytes_buf(key)
  const js = new AeadKey(key)
  const native = NativeAead.create(key)

  const rows: Array<[string, number, string, Cell]> = []
  for (const size of SIZES) {
    const { buf, adEnd, textEnd } = record(size)
    const ad = buf.subarray(0, adEnd)
    const text = buf.subarray(adEnd, textEnd)
    const tag = buf.subarray(textEnd)

    rows.push(['seal', size, 'sodium', measure(size, 1, (c) => js.sealInPlace(ad, text, tag, c))])
    rows.push(['seal', size, 'node', measure(size, 1, (c) => { js.sealPieces(ad, ad.subarray(0, 0), text, 0, size, c) })])
    rows.push(['seal', size, 'native', measure(size, 1, (c) => native.sealInPlace(buf, 0, adEnd, textEnd, c))])

    const arena = new Uint8Array(SLOT_BATCH * (AD_BYTES + size + TAG_BYTES))
    const slotBytes = AD_BYTES + size + TAG_BYTES
    const lengths = new Uint32Array(SLOT_BATCH)
    const counters = new Float64Array(SLOT_BATCH)
    rows.push(['seal', size, `slots x${SLOT_BATCH}`, measure(size, SLOT_BATCH, (c) => {
      lengths.fill(AD_BYTES + size)
      for (let i = 0; i < SLOT_BATCH; i++) counters[i] = c * SLOT_BATCH + i
      native.sealSlots(arena, slotBytes, lengths, SLOT_BATCH, AD_BYTES, counters)
    })])

    rows.push(['seal+open', size, 'sodium', measure(size, 1, (c) => {
      js.sealInPlace(ad, text, tag, c)
      if (!js.openInPlace(ad, text, tag, c)) throw new Error('sodium open failed')
    })])
    rows.push(['seal+open', size, 'node', measure(size, 1, (c) => {
      const [, body, sealedTag] = js.sealPieces(ad, ad.subarray(0, 0), text, 0, size, c)
      if (!js.openToBuffer(ad, body, sealedTag, c)) throw new Error('node:crypto open failed')
    })])
    rows.push(['seal+open', size, 'native', measure(size, 1, (c) => {
      native.sealInPlace(buf, 0, adEnd, textEnd, c)
      if (!native.openInPlace(buf, 0, adEnd, textEnd, c)) throw new Error('native open failed')
    })])
  }
  native.wipe()
  js.wipe()

  console.log(`ChaCha20-Poly1305, ${AD_BYTES}-byte AD, one core (CPU time); node ${process.version}, ${nativeAeadVersion()}`)
  console.log('| op | bytes | impl | GB/s | ns/record | vs sodium |')
  console.log('|---|---:|---|---:|---:|---:|')
  for (const [op, size, impl, cell] of rows) {
    const base = rows.find(([o, s, i]) => o === op && s === size && i === 'sodium')![3]
    console.log(`| ${op} | ${size} | ${impl} | ${cell.gbPerSec.toFixed(2)} | ${Math.round(cell.nsPerCall)} | ${(base.nsPerCall / cell.nsPerCall).toFixed(2)}x |`)
  }
}

main()
