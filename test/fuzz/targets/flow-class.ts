// flowBucketOf: random and IP-shaped packets; the bucket depends only on the 5-tuple.
import fc from 'fast-check'
import { flowBucketOf } from '../../../src/multipath/flow-class.js'
import { DEFAULT_FLOW_BUCKETS } from '../../../src/multipath/constants.js'
import { nearValidBytes, timeBoxed, type FuzzTarget } from '../lib.js'

const ipv4Arb = fc.tuple(fc.integer({ min: 5, max: 15 }), fc.constantFrom(6, 17, 1, 47), fc.uint8Array({ minLength: 60, maxLength: 120 }), fc.boolean())
  .map(([ihl, proto, body, fragment]) => {
    const p = Buffer.from(body)
    p[0] = 0x40 | ihl; p[9] = proto; p[6] = fragment ? 0x20 : 0x40; p[7] = 0
    return p
  })
const ipv6Arb = fc.tuple(fc.constantFrom(6, 17, 58, 0), fc.uint8Array({ minLength: 40, maxLength: 120 }))
  .map(([proto, body]) => { const p = Buffer.from(body); p[0] = 0x60 | (p[0]! & 0x0f); p[6] = proto; return p })

export const flowClassTarget: FuzzTarget = {
  name: 'flow-class',
  about: 'flowBucketOf: an integer bucket in range; bytes after the ports do not change it',
  create () {
    const property = fc.property(nearValidBytes(fc.oneof(ipv4Arb, ipv6Arb), 128), fc.integer({ min: 1, max: 65536 }), fc.nat(), ({ input }, buckets, at) => {
      const b = timeBoxed(() => flowBucketOf(input, buckets))
      if (!Number.isInteger(b) || b < 0 || b >= buckets) throw new Error(`bucket ${b} of ${buckets}`)
      const d = flowBucketOf(input, DEFAULT_FLOW_BUCKETS)
      // Beyond the largest header the hash can read (IPv4 IHL 15 = 60 bytes, then 4 bytes of ports).
      if (input.length > 64) {
        const changed = Buffer.from(input)
        changed[64 + (at % (input.length - 64))]! ^= 0xff
        if (flowBucketOf(changed, DEFAULT_FLOW_BUCKETS) !== d) throw new Error('a payload byte changed the bucket')
      }
    })
    return { property }
  },
}
