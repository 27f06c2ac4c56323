// ttt CLI arguments: parsePathSpec, parseRate, parseCidr, parseMtu.
import fc from 'fast-check'
import { isIP } from 'node:net'
import { UsageError } from '../../../src/errors.js'
import { parseCidr, parseMtu, parsePathSpec, parseRate } from '../../../cmd/ttt-options.js'
import { nearValidString, onlyThrows, timeBoxed, type FuzzTarget } from '../lib.js'

const rate = fc.tuple(fc.oneof(fc.nat().map(String), fc.double({ min: 0, max: 1e4, noNaN: true }).map(String), fc.constant('9'.repeat(400))), fc.constantFrom('', 'bit', 'kbit', 'mbit', 'gbit', 'Mbit/s', 'mbps')).map(([n, u]) => n + u)
const address = fc.oneof(fc.ipV4(), fc.ipV6())
const pathSpec = fc.tuple(address, fc.array(fc.oneof(fc.constantFrom('backup', 'primary'), rate.map((r) => `rate=${r}`), fc.oneof(fc.double().map(String), fc.constantFrom('Infinity', '1e400')).map((w) => `weight=${w}`)), { maxLength: 3 }))
  .map(([a, o]) => [a, ...o].join(','))
const cidr = fc.tuple(address, fc.integer({ min: 0, max: 129 })).map(([a, b]) => `${a}/${b}`)

/** Known, reported: rates and weights are not checked for finiteness ("9"x400 bit, weight=Infinity). */
/** Was a known bug (infinite rates and weights); fixed in 3365717, so no input is skipped now. */
export function hitsKnownRateBug (_text: string): boolean {
  return false
}

export const tttOptionsTarget: FuzzTarget = {
  name: 'ttt-options',
  about: 'parsePathSpec/Rate/Cidr/Mtu: only UsageError; accepted rates, weights and MTUs are finite and in range',
  create () {
    const property = fc.property(nearValidString(pathSpec), nearValidString(rate), nearValidString(cidr), fc.oneof(nearValidString(fc.integer({ min: 500, max: 9100 }).map(String)), fc.double(), fc.constant(undefined)), (spec, r, c, mtu) => {
      timeBoxed(() => {
        let path: ReturnType<typeof parsePathSpec> | undefined
        if (onlyThrows(() => { path = parsePathSpec(spec) }, UsageError) === 'ok' && !hitsKnownRateBug(spec)) {
          if (isIP(path!.localAddress) === 0) throw new Error(`path address ${path!.localAddress}`)
          if (path!.txCapBitsPerSec !== undefined && !(Number.isInteger(path!.txCapBitsPerSec) && path!.txCapBitsPerSec >= 0)) throw new Error(`rate ${path!.txCapBitsPerSec}`)
          if (path!.weight !== undefined && !(Number.isFinite(path!.weight) && path!.weight > 0)) throw new Error(`weight ${path!.weight}`)
        }
        let bits = NaN
        if (onlyThrows(() => { bits = parseRate(r, '--rate') }, UsageError) === 'ok' && !hitsKnownRateBug(r) && !(Number.isInteger(bits) && bits >= 0)) throw new Error(`parseRate(${r}) = ${bits}`)
        let text = ''
        if (onlyThrows(() => { text = parseCidr(c, '--address') }, UsageError) === 'ok') {
          const [a = '', b = ''] = text.split('/')
          if (isIP(a) === 0 || !/^\d+$/.test(b) || Number(b) > (isIP(a) === 4 ? 32 : 128)) throw new Error(`accepted CIDR ${text}`)
        }
        let m: number | undefined
        if (onlyThrows(() => { m = parseMtu(mtu) }, UsageError) === 'ok' && m !== undefined && !(Number.isInteger(m) && m >= 576 && m <= 9000)) throw new Error(`mtu ${m}`)
      })
    })
    return { property }
  },
}
