/**
 * Shared pieces of the fuzz targets: the target interface, arbitraries that mutate valid inputs
 * (bit flips, byte overwrites, truncations, extensions, length-field lies) or make raw bytes, and
 * the per-input time box.
 */
import fc from 'fast-check'

export interface FuzzHarness {
  /** The property: one input per run. Sync for pure parsers, async for harnesses with I/O. */
  property: fc.IRawProperty<any>
  /** Checks run after the whole run (the good session still moves data, memory is bounded). */
  after?: () => void | Promise<void>
  close?: () => void | Promise<void>
}

export interface FuzzTarget {
  name: string
  /** One line: what is fuzzed and what is checked. */
  about: string
  /** Real sockets or handshakes per input: the bench time-boxes it instead of running 1M inputs. */
  slow?: boolean
  create(): FuzzHarness | Promise<FuzzHarness>
}

/** An input that took longer than this is a failure ("never hangs"). A hang detector, not a speed
 * bar: inputs take well under a millisecond, and `npm test` shares a loaded CPU with netns suites. */
export const INPUT_TIME_LIMIT_MS = 2000

export class SlowInputError extends Error {
  override name = 'SlowInputError'
}

/** Runs `fn` and fails if it took longer than the time box (a hang that ends is still a bug). */
export function timeBoxed<T> (fn: () => T, limitMs = INPUT_TIME_LIMIT_MS): T {
  const start = performance.now()
  const result = fn()
  const tookMs = performance.now() - start
  if (tookMs > limitMs) throw new SlowInputError(`input took ${tookMs.toFixed(0)} ms (limit ${limitMs} ms)`)
  return result
}

/** Rethrows anything that is not one of the documented error classes. */
export function onlyThrows (fn: () => void, ...allowed: Array<abstract new (...args: any[]) => Error>): 'ok' | 'refused' {
  try {
    fn()
    return 'ok'
  } catch (err) {
    if (allowed.some((cls) => err instanceof cls)) return 'refused'
    throw err
  }
}

export type Mutation =
  | { kind: 'flip', at: number, bit: number }
  | { kind: 'set', at: number, value: number }
  | { kind: 'truncate', at: number }
  | { kind: 'append', bytes: Uint8Array }
  | { kind: 'insert', at: number, bytes: Uint8Array }
  | { kind: 'delete', at: number, count: number }
  | { kind: 'u32', at: number, value: number }
  | { kind: 'u16', at: number, value: number }

const interestingU32 = fc.oneof(
  fc.constantFrom(0, 1, 2, 3, 4, 5, 0x7f, 0xff, 0x100, 0xffff, 0x10000, 0x10100, 0x10101, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff),
  fc.integer({ min: 0, max: 0xffffffff }),
)

export const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), bit: fc.integer({ min: 0, max: 7 }) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('set' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('append' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('insert' as const), at: fc.nat(), bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('u32' as const), at: fc.nat(), value: interestingU32 }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('u16' as const), at: fc.nat(), value: fc.integer({ min: 0, max: 0xffff }) }), weight: 1 },
)

/** Applies mutations to a copy of `input` (positions wrap around its current length). */
export function mutate (input: Uint8Array, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(input)
  for (const m of mutations) {
    const n = b.length
    switch (m.kind) {
      case 'flip': if (n > 0) b[m.at % n]! ^= 1 << m.bit; break
      case 'set': if (n > 0) b[m.at % n] = m.value; break
      case 'truncate': b = b.subarray(0, n === 0 ? 0 : m.at % n); break
      case 'append': b = Buffer.concat([b, m.bytes]); break
      case 'insert': { const at = n === 0 ? 0 : m.at % (n + 1); b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]); break }
      case 'delete': { if (n === 0) break; const at = m.at % n; b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]); break }
      case 'u32': if (n >= 4) b.writeUInt32BE(m.value >>> 0, m.at % (n - 3)); break
      case 'u16': if (n >= 2) b.writeUInt16BE(m.value, m.at % (n - 1)); break
    }
  }
  return b
}

/** A valid input with 1-4 mutations (the result may happen to equal the input). */
export function mutated (valid: fc.Arbitrary<Uint8Array>): fc.Arbitrary<{ original: Buffer, input: Buffer }> {
  return fc.tuple(valid, fc.array(mutationArb, { minLength: 1, maxLength: 4 }))
    .map(([v, ms]) => ({ original: Buffer.from(v), input: mutate(v, ms) }))
}

/** Valid, mutated-valid and raw random inputs, as `{ original, input }` (original = input when unmutated). */
export function nearValidBytes (valid: fc.Arbitrary<Uint8Array>, maxRawBytes = 256): fc.Arbitrary<{ original: Buffer | undefined, input: Buffer }> {
  return fc.oneof(
    { arbitrary: valid.map((v) => ({ original: Buffer.from(v), input: Buffer.from(v) })), weight: 1 },
    { arbitrary: mutated(valid), weight: 6 },
    { arbitrary: fc.uint8Array({ maxLength: maxRawBytes }).map((r) => ({ original: undefined, input: Buffer.from(r) })), weight: 3 },
  )
}

/** Splits `data` at the given cut points (each taken modulo its length), for incremental parsers. */
export function chunked (data: Buffer, cuts: readonly number[]): Buffer[] {
  if (data.length === 0) return [data]
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b)
  const out: Buffer[] = []
  let from = 0
  for (const p of points) { out.push(data.subarray(from, p)); from = p }
  out.push(data.subarray(from))
  return out
}

/** Strings near a valid one: the valid text, text edits, and random unicode / ascii. */
export function nearValidString (valid: fc.Arbitrary<string>): fc.Arbitrary<string> {
  const edit = fc.tuple(valid, fc.nat(), fc.nat(), fc.string({ maxLength: 4, unit: fc.constantFrom(...'0123456789abcdefABCDEF.:/[]-,=+_ \t\n%xXeEkmgbitps'.split('')) }))
    .map(([v, at, len, ins]) => { const i = at % (v.length + 1); return v.slice(0, i) + ins + v.slice(i + (len % 4)) })
  return fc.oneof(
    { arbitrary: valid, weight: 2 },
    { arbitrary: edit, weight: 5 },
    { arbitrary: fc.string({ maxLength: 40 }), weight: 2 },
    { arbitrary: fc.string({ maxLength: 40, unit: 'binary' }), weight: 1 },
  )
}
