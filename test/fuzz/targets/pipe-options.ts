// Pipe CLI flags: parseBytes, parseSeconds, parseCount, tunablesFromFlags.
import fc from 'fast-check'
import { UsageError } from '../../../src/errors.js'
import { resolveTunables } from '../../../src/pipe/config.js'
import { parseBytes, parseCount, parseSeconds, tunablesFromFlags, type PipeFlags } from '../../../cmd/pipe-options.js'
import { nearValidString, onlyThrows, timeBoxed, type FuzzTarget } from '../lib.js'

const number = fc.oneof(fc.nat({ max: 100_000 }).map(String), fc.double({ min: 0, max: 1e7, noNaN: true }).map(String), fc.constantFrom('0', '1e400', '-1', 'Infinity', 'NaN', '0x10', '1_000'))
const size = fc.tuple(number, fc.constantFrom('', 'k', 'm', 'g', 'K', 'M', 'G', 'kb', 'kib', 'MiB', ' k')).map(([n, s]) => n + s)
const seconds = fc.tuple(number, fc.constantFrom('', 's')).map(([n, s]) => n + s)
const value: fc.Arbitrary<unknown> = fc.oneof(nearValidString(fc.oneof(size, seconds)), fc.double(), fc.integer(), fc.constantFrom(true, false, null, [], {}))

/** Known, reported: a --handshake-rate above 500000 fails on the derived burst, named by its field. */
/** Was a known bug (an internal field name in the message); fixed in 3365717, so no input is skipped now. */
export function hitsKnownFlagsBug (_flags: PipeFlags): boolean {
  return false
}

export const pipeOptionsTarget: FuzzTarget = {
  name: 'pipe-options',
  about: 'parseBytes/Seconds/Count, tunablesFromFlags: only UsageError (naming the flag); results are finite and in range',
  create () {
    const flagsArb = fc.record({
      rekey: value, keepalive: value, window: value, maxStreams: value, handshakeTimeout: value,
      connectTimeout: value, maxSessions: value, handshakeRate: value, reconnectMax: value,
    }, { requiredKeys: [] })
    const property = fc.property(value, flagsArb, (v, flags) => {
      timeBoxed(() => {
        let n = NaN
        if (onlyThrows(() => { n = parseBytes(v, '--window') }, UsageError) === 'ok' && !(Number.isInteger(n) && n >= 0)) throw new Error(`parseBytes(${String(v)}) = ${n}`)
        if (onlyThrows(() => { n = parseSeconds(v, '--rekey') }, UsageError) === 'ok' && !(Number.isFinite(n) && n > 0)) throw new Error(`parseSeconds(${String(v)}) = ${n}`)
        if (onlyThrows(() => { n = parseCount(v, '--max-streams') }, UsageError) === 'ok' && !(Number.isInteger(n) && n >= 1)) throw new Error(`parseCount(${String(v)}) = ${n}`)
        try {
          resolveTunables(tunablesFromFlags(flags))
        } catch (err) {
          if (!(err instanceof UsageError)) throw err
          if (!err.message.startsWith('--') && !hitsKnownFlagsBug(flags)) throw new Error(`error does not name the flag: ${err.message}`)
        }
      })
    })
    return { property }
  },
}
