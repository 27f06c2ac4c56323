// parseHostPort: near-valid HOST:PORT and [V6]:PORT strings and random text.
import fc from 'fast-check'
import { UsageError } from '../../../src/errors.js'
import { formatHostPort, parseHostPort, type HostPort } from '../../../src/pipe/address.js'
import { nearValidString, onlyThrows, timeBoxed, type FuzzTarget } from '../lib.js'

const hostPort = fc.tuple(fc.oneof(fc.ipV4(), fc.ipV6(), fc.domain()), fc.integer({ min: 0, max: 70000 })).map(([h, p]) => formatHostPort({ host: h, port: p }))

export const pipeAddressTarget: FuzzTarget = {
  name: 'pipe-address',
  about: 'parseHostPort: only UsageError; accepted ports are 1-65535, hosts non-empty, and format/parse round-trips',
  create () {
    const property = fc.property(nearValidString(hostPort), fc.option(fc.constantFrom('127.0.0.1', '::')), (text, defaultHost) => {
      let hp: HostPort | undefined
      const outcome = timeBoxed(() => onlyThrows(() => { hp = parseHostPort(text, 'listen', defaultHost ?? undefined) }, UsageError))
      if (outcome === 'refused') return
      if (!(Number.isInteger(hp!.port) && hp!.port >= 1 && hp!.port <= 65535)) throw new Error(`port ${hp!.port}`)
      if (hp!.host.length === 0) throw new Error('empty host accepted')
      if (!/[\s[\]]/.test(hp!.host)) {
        const again = parseHostPort(formatHostPort(hp!), 'listen')
        if (again.host !== hp!.host || again.port !== hp!.port) throw new Error(`round trip of ${JSON.stringify(hp)} gave ${JSON.stringify(again)}`)
      }
    })
    return { property }
  },
}
