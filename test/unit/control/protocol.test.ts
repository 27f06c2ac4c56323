import { test } from 'node:test'
import assert from 'node:assert/strict'
import { LineSplitter, parseRequest, ControlCommandError } from '../../../src/control/protocol.js'

test('requests: a JSON object with a string cmd; anything else is a bad-request', () => {
  assert.deepEqual(parseRequest('{"cmd":"status"}'), { cmd: 'status' })
  assert.deepEqual(parseRequest('{"cmd":"set","id":3,"rekey":30}'), { cmd: 'set', id: 3, rekey: 30 })
  for (const bad of ['', 'status', '[]', 'null', '3', '{}', '{"cmd":""}', '{"cmd":1}']) {
    assert.throws(() => parseRequest(bad), (e: unknown) => e instanceof ControlCommandError && e.code === 'bad-request', bad)
  }
})

test('line splitter: lines under every chunking, CRLF, blank lines skipped', () => {
  const input = Buffer.from('{"cmd":"a"}\n\n{"cmd":"é"}\r\n{"cmd":"c"}\n')
  const expected = ['{"cmd":"a"}', '{"cmd":"é"}', '{"cmd":"c"}']
  for (let cut = 0; cut <= input.length; cut++) {
    const lines: string[] = []
    const s = new LineSplitter(100, (l) => lines.push(l))
    assert.equal(s.push(input.subarray(0, cut)), true)
    assert.equal(s.push(input.subarray(cut)), true)
    assert.deepEqual(lines, expected, `cut at ${cut}`)
  }
  const lines: string[] = []
  const s = new LineSplitter(100, (l) => lines.push(l))
  for (let i = 0; i < input.length; i++) s.push(input.subarray(i, i + 1))
  assert.deepEqual(lines, expected, 'one byte at a time (a multi-byte character split)')
})

test('line splitter: a line over the limit stops it, whole or in pieces', () => {
  const lines: string[] = []
  const s = new LineSplitter(8, (l) => lines.push(l))
  assert.equal(s.push(Buffer.from('12345678\n')), true, 'exactly the limit is fine')
  assert.equal(s.push(Buffer.from('12345')), true)
  assert.equal(s.push(Buffer.from('6789')), false)
  assert.equal(s.overflowed, true)
  assert.equal(s.push(Buffer.from('\n')), false)
  assert.deepEqual(lines, ['12345678'])
  assert.equal(new LineSplitter(8, () => {}).push(Buffer.from('123456789\n')), false)
})
