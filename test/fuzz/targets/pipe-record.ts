// RecordReader: streams of real records, mutated, under random chunkings; and raw bytes.
import fc from 'fast-check'
import { ProtocolError } from '../../../src/errors.js'
import { RecordReader, MAX_RECORD_LENGTH, LENGTH_BYTES } from '../../../src/pipe/record.js'
import { chunked, mutated, timeBoxed, type FuzzTarget } from '../lib.js'

const recordArb = fc.tuple(fc.integer({ min: 1, max: 3 }), fc.uint8Array({ maxLength: 300 })).map(([type, body]) => {
  const r = Buffer.alloc(LENGTH_BYTES + 1 + body.length)
  r.writeUInt32BE(1 + body.length, 0)
  r[4] = type
  r.set(body, 5)
  return r
})
const streamArb = fc.array(recordArb, { minLength: 1, maxLength: 6 })

export const pipeRecordTarget: FuzzTarget = {
  name: 'pipe-record',
  about: 'RecordReader.push: only ProtocolError; valid streams split anywhere give back the same records',
  create () {
    const input = fc.oneof(
      { arbitrary: streamArb.map((rs) => ({ records: rs as Buffer[] | undefined, bytes: Buffer.concat(rs) })), weight: 2 },
      { arbitrary: mutated(streamArb.map((rs) => Buffer.concat(rs))).map((m) => ({ records: undefined, bytes: m.input })), weight: 5 },
      { arbitrary: fc.uint8Array({ maxLength: 512 }).map((b) => ({ records: undefined, bytes: Buffer.from(b) })), weight: 2 },
    )
    const property = fc.property(input, fc.array(fc.nat(), { maxLength: 8 }), fc.integer({ min: 16, max: MAX_RECORD_LENGTH }), ({ records, bytes }, cuts, maxLength) => {
      const out: Buffer[] = []
      const reader = new RecordReader((r) => out.push(Buffer.from(r)), records === undefined ? maxLength : MAX_RECORD_LENGTH)
      let refused = false
      timeBoxed(() => {
        try {
          for (const chunk of chunked(bytes, cuts)) reader.push(chunk)
        } catch (err) {
          if (!(err instanceof ProtocolError)) throw err
          refused = true
        }
      })
      for (const r of out) {
        if (r.length !== LENGTH_BYTES + r.readUInt32BE(0)) throw new Error(`record of ${r.length} bytes has length field ${r.readUInt32BE(0)}`)
        if (r.readUInt32BE(0) === 0) throw new Error('empty record handed out')
      }
      if (records !== undefined) {
        if (refused) throw new Error('a valid stream was refused')
        if (out.length !== records.length || out.some((r, i) => !r.equals(records[i]!))) throw new Error('records differ from those sent')
        if (reader.hasPartial) throw new Error('partial record left after a whole stream')
      }
    })
    return { property }
  },
}
