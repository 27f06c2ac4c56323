import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parsePathWords, parseSetWords } from '../../../cmd/runtime-cli.js'
import { UsageError } from '../../../src/errors.js'
import { parsePathRef, readPathArgs, readSetArgs } from '../../../src/control/runtime.js'
import { ControlCommandError } from '../../../src/control/protocol.js'
import { pipeClientCommands, pipeServerCommands, vpnClientCommands } from '../../../cmd/runtime-commands.js'
import { silentLogger } from '../../../src/log.js'

test('gst set: scheduler= and rekey= words', () => {
  assert.deepEqual(parseSetWords(['scheduler=weighted']), { scheduler: 'weighted' })
  assert.deepEqual(parseSetWords(['rekey=0.5']), { rekeySeconds: 0.5 })
  assert.deepEqual(parseSetWords(['scheduler=auto', 'rekey=30s']), { scheduler: 'auto', rekeySeconds: 30 })
  assert.throws(() => parseSetWords([]), UsageError)
  assert.throws(() => parseSetWords(['scheduler=fast']), /must be auto, weighted or redundant/)
  assert.throws(() => parseSetWords(['rekey=0']), /rekey takes a number of seconds/)
  assert.throws(() => parseSetWords(['rekey']), /KEY=VALUE/)
  assert.throws(() => parseSetWords(['mtu=1400']), /unknown setting "mtu"/)
})

test('gst path: PATH_ID set up|down|backup|primary|rate=|weight=', () => {
  assert.deepEqual(parsePathWords('0', ['set', 'down']), { path: '0', down: true })
  assert.deepEqual(parsePathWords('1234/2', ['set', 'up', 'backup', 'rate=20mbit', 'weight=3']),
    { path: '1234/2', down: false, preference: 'backup', rateBitsPerSec: 20_000_000, weight: 3 })
  assert.deepEqual(parsePathWords('0', ['set', 'primary', 'rate=unlimited']), { path: '0', preference: 'primary', rateBitsPerSec: 0 })
  assert.throws(() => parsePathWords('0', ['down']), /expected "set"/)
  assert.throws(() => parsePathWords('0', ['set']), /nothing to change/)
  assert.throws(() => parsePathWords('x', ['set', 'down']), /not a path id/)
  assert.throws(() => parsePathWords('0', ['set', 'sideways']), /unknown path change/)
  assert.throws(() => parsePathWords('0', ['set', 'rate=fast']), /not a rate/)
  assert.throws(() => parsePathWords('0', ['set', 'weight=0']), /weight must be a number above 0/)
})

test('control requests are checked again by the instance (bad-argument)', () => {
  const isBad = (err: unknown): boolean => err instanceof ControlCommandError && err.code === 'bad-argument'
  assert.deepEqual(readSetArgs({ cmd: 'set', args: { rekeySeconds: 2 } }), { rekeySeconds: 2 })
  assert.throws(() => readSetArgs({ cmd: 'set' }), isBad)
  assert.throws(() => readSetArgs({ cmd: 'set', args: {} }), isBad)
  assert.throws(() => readSetArgs({ cmd: 'set', args: { rekeySeconds: '2' } }), isBad)
  assert.throws(() => readSetArgs({ cmd: 'set', args: { mtu: 1 } }), isBad)
  assert.deepEqual(readPathArgs({ cmd: 'path', args: { path: '0', down: true } }), { path: '0', down: true })
  assert.throws(() => readPathArgs({ cmd: 'path', args: { path: '0' } }), isBad)
  assert.throws(() => readPathArgs({ cmd: 'path', args: { path: '0', weight: -1 } }), isBad)
  assert.deepEqual(parsePathRef('0'), { session: undefined, id: 0 })
  assert.deepEqual(parsePathRef('77/3'), { session: '77', id: 3 })
  assert.throws(() => parsePathRef('256'), isBad)
  assert.throws(() => parsePathRef('/1'), isBad)
})

test('pipe client commands: scheduler, rekey and path changes reach the client; the server refuses paths and rekey', () => {
  const calls: unknown[] = []
  const commands = pipeClientCommands({
    setPath: (id, change) => { calls.push([id, change]); return `path ${id}` },
    setScheduler: (kind) => { calls.push(kind) },
    setRekeyInterval: (ms) => { calls.push(ms) },
  }, silentLogger)
  assert.deepEqual(commands.set!({ cmd: 'set', args: { rekeySeconds: 0.5 } }), { applied: 'rekey=0.5 s' })
  assert.deepEqual(commands.set!({ cmd: 'set', args: { scheduler: 'redundant' } }), { applied: 'scheduler=redundant' })
  assert.deepEqual(commands.path!({ cmd: 'path', args: { path: '1', down: true } }), { applied: 'path 1' })
  assert.deepEqual(calls, [500, 'redundant', [1, { down: true }]])
  const server = pipeServerCommands({ setScheduler: (kind) => { calls.push(`server ${kind}`) } }, silentLogger)
  assert.deepEqual(server.set!({ cmd: 'set', args: { scheduler: 'weighted' } }), { applied: 'scheduler=weighted' })
  assert.equal(calls.at(-1), 'server weighted')
  assert.throws(() => server.set!({ cmd: 'set', args: { rekeySeconds: 1 } }), /started by the client/)
  assert.throws(() => server.path!({ cmd: 'path', args: { path: '0', down: true } }), /paths belong to the client/)
})

test('ttt client commands: SESSION/N must name the current session', () => {
  const calls: unknown[] = []
  const commands = vpnClientCommands({
    setPath: (id, change) => { calls.push([id, change]); return `path ${id}` },
    setScheduler: (kind) => { calls.push(kind) },
    setRekeyInterval: (ms) => { calls.push(ms) },
    peerSnapshot: () => ({ id: '42' }),
  }, silentLogger)
  assert.deepEqual(commands.path!({ cmd: 'path', args: { path: '42/1', down: true } }), { applied: 'path 1' })
  assert.throws(() => commands.path!({ cmd: 'path', args: { path: '7/1', down: true } }), /no session 7 \(the current session is 42/)
  assert.deepEqual(commands.set!({ cmd: 'set', args: { scheduler: 'redundant', rekeySeconds: 10 } }), { applied: 'scheduler=redundant rekey=10 s' })
  assert.deepEqual(calls, [[1, { down: true }], 10_000, 'redundant'])
})
