// bench/bonding's options, spawned as a user runs it: a bad --l1 / --l2 is the usage and exit 2, before
// any lab is built (so this runs without root).
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { fileURLToPath } from 'node:url'
import { ProcessGroup, run } from '../../helpers/processes.js'

const group = new ProcessGroup()
after(async () => { await group.killAll() })

const bonding = fileURLToPath(new URL('../../../bench/bonding.js', import.meta.url))

test('bench/bonding --l1 garbage / --l2 without a delay: the usage, exit 2, no lab', { timeout: 60_000 }, async () => {
  for (const argv of [['--l1', 'garbage'], ['--l2', '10mbit']]) {
    const r = await run(group, 'bonding', process.execPath, [bonding, ...argv], { timeoutMs: 30_000 })
    assert.equal(r.code, 2, r.stderr)
    assert.equal(r.stdout, '')
    assert.match(r.stderr, new RegExp(`^${argv[0]} takes RATE,DELAY\\[,QUEUE\\].*\\(got "${argv[1]}"\\)\\nusage: node dist/bench/bonding\\.js .*--l1 20mbit,10ms,100`))
    assert.doesNotMatch(r.stderr, /lab up|bench\/bonding: /)
  }
})
