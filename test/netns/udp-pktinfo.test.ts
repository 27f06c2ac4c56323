// IPv6 packet info on a wildcard-bound native UDP socket, in a throwaway network namespace (the
// host's loopback has only ::1; IPv4 is covered without root in test/unit/native-udp.test.ts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { addonPath } from '../../src/native/index.js'
import { ProcessGroup, run } from '../helpers/processes.js'

const check = fileURLToPath(new URL('./helpers/pktinfo-check.js', import.meta.url))
const skip = process.getuid?.() !== 0 ? 'needs root (network namespaces)'
  : spawnSync('unshare', ['--version']).status !== 0 ? 'unshare (util-linux) is not installed'
  : !existsSync(addonPath) ? `${addonPath} is missing (run npm install)`
  : undefined

test('a socket on :: replies to an IPv6 client from the address it wrote to', { skip, timeout: 20_000 }, async (t) => {
  const group = new ProcessGroup()
  t.after(async () => await group.killAll())
  // `unshare --net`: the namespace and its addresses die with the child, pass or fail.
  const r = await run(group, 'pktinfo-check', 'unshare', ['--net', process.execPath, check], { timeoutMs: 15_000 })
  assert.equal(r.code, 0, r.stderr)
  const seen = JSON.parse(r.stdout) as { local: string, replies: string[] }
  assert.equal(seen.local, 'fd00::2')
  assert.deepEqual(seen.replies, ['single from fd00::2', 'run 0 from fd00::2', 'run 1 from fd00::2', 'control from fd00::1'])
})
