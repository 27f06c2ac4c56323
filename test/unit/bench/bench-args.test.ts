import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseBenchArgs, BenchUsageError } from '../../../bench/lib/bench-args.js'

const spec = { seconds: 'number', only: 'string', 'no-markdown': 'flag' } as const

test('bench options: values, defaults and both value forms', () => {
  const args = parseBenchArgs(spec, ['--seconds', '20', '--only=bonded', '--no-markdown'])
  assert.equal(args.number('seconds', 15), 20)
  assert.equal(args.string('only', undefined), 'bonded')
  assert.equal(args.flag('no-markdown'), true)
  assert.equal(args.help, false)
  const none = parseBenchArgs(spec, [])
  assert.equal(none.number('seconds', 15), 15)
  assert.equal(none.string('only', undefined), undefined)
  assert.equal(none.flag('no-markdown'), false)
  assert.equal(parseBenchArgs(spec, ['-h']).help, true)
  const passing = parseBenchArgs({ ttt: 'options', seconds: 'number' }, ['--ttt', '--pace --rekey 1', '--seconds', '5'])
  assert.equal(passing.string('ttt', ''), '--pace --rekey 1')
  assert.equal(passing.number('seconds', 15), 5)
})

test('bench options: a typo, a missing value or a bad number is a usage error naming the option', () => {
  for (const [argv, names] of [
    [['--secnds', '20'], /secnds/],
    [['--seconds'], /seconds/],
    [['--seconds', 'ten'], /--seconds takes a number/],
    [['--seconds', '-3'], /seconds/],
    [['bonded'], /bonded/],
  ] as const) {
    assert.throws(() => parseBenchArgs(spec, argv).number('seconds', 15), (error: unknown) => error instanceof BenchUsageError && names.test(error.message), argv.join(' '))
  }
})

test('bench options: a lab link is RATE,DELAY[,QUEUE] in Mbit/s, one-way ms and packets', () => {
  const spec = { l1: 'link', l2: 'link' } as const
  const fallback = { rateMbit: 20, delayMs: 10, queuePkts: 100 }
  const args = parseBenchArgs(spec, ['--l1', '10mbit,40ms', '--l2=2.5,0,30'])
  assert.deepEqual(args.link('l1', fallback), { rateMbit: 10, delayMs: 40, queuePkts: 100 })
  assert.deepEqual(args.link('l2', fallback), { rateMbit: 2.5, delayMs: 0, queuePkts: 30 })
  assert.deepEqual(parseBenchArgs(spec, []).link('l1', fallback), fallback)
  for (const text of ['garbage', '', '10mbit', '10mbit,', '0mbit,10ms', '10mbit,-5ms', '10mbit,10ms,0', '10mbit,10ms,1.5', '10mbit,10ms,100,7', '10kbit,10ms']) {
    assert.throws(() => parseBenchArgs(spec, ['--l1', text]).link('l1', fallback), (error: unknown) => error instanceof BenchUsageError && /--l1 takes RATE,DELAY/.test(error.message), text)
  }
})
