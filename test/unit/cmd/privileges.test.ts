import { test } from 'node:test'
import assert from 'node:assert/strict'
import { parseGroupLine, parsePasswdLine, planPrivilegeDrop } from '../../../cmd/privileges.js'
import { UsageError } from '../../../src/errors.js'

test('passwd and group lines as getent prints them', () => {
  assert.deepEqual(parsePasswdLine('nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n'), { name: 'nobody', id: 65534, gid: 65534 })
  assert.deepEqual(parsePasswdLine('gst:x:998:997::/:/usr/sbin/nologin'), { name: 'gst', id: 998, gid: 997 })
  for (const bad of ['', 'nobody', 'nobody:x:abc:1:::', ':x:1:1:::', 'a:x:-1:1:::']) assert.equal(parsePasswdLine(bad), undefined, bad)
  assert.deepEqual(parseGroupLine('nogroup:x:65534:'), { name: 'nogroup', id: 65534, gid: 65534 })
  assert.deepEqual(parseGroupLine('adm:x:4:syslog,alice'), { name: 'adm', id: 4, gid: 4 })
  for (const bad of ['', 'x', 'x:x:y:', ':x:4:']) assert.equal(parseGroupLine(bad), undefined, bad)
})

test('--user/--group checks that need no lookup', async () => {
  assert.equal(await planPrivilegeDrop({}, 'gst-server'), undefined, 'no --user: nothing to do')
  await assert.rejects(planPrivilegeDrop({ group: 'nogroup' }, 'gst-server'), (e: Error) => e instanceof UsageError && /--group needs --user/.test(e.message))
  await assert.rejects(planPrivilegeDrop({ user: true }, 'gst-server'), (e: Error) => e instanceof UsageError && /--user takes one user/.test(e.message))
  await assert.rejects(planPrivilegeDrop({ user: 'a:b' }, 'gst-server'), (e: Error) => e instanceof UsageError && /--user takes a user or group name/.test(e.message))
})
