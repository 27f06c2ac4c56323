import { test } from 'node:test'
import assert from 'node:assert/strict'
import { defaultControlDir, socketPath, instanceNameOf, isValidInstanceName, assertInstanceName, MAX_SOCKET_PATH_BYTES } from '../../../src/control/paths.js'
import { controlDirFromFlags, instanceName } from '../../../cmd/control-options.js'
import { UsageError } from '../../../src/errors.js'

test('default control directory: /run/gst for root, $XDG_RUNTIME_DIR/gst, else /tmp/gst-UID', () => {
  assert.equal(defaultControlDir({ uid: 0, runtimeDir: '/run/user/0' }), '/run/gst')
  assert.equal(defaultControlDir({ uid: 1000, runtimeDir: '/run/user/1000' }), '/run/user/1000/gst')
  assert.equal(defaultControlDir({ uid: 1000, runtimeDir: undefined }), '/tmp/gst-1000')
  assert.equal(defaultControlDir({ uid: 1000, runtimeDir: 'relative/dir' }), '/tmp/gst-1000', 'a relative XDG_RUNTIME_DIR is ignored (the spec requires absolute)')
  assert.equal(defaultControlDir({ uid: 1000, runtimeDir: '' }), '/tmp/gst-1000')
})

test('socket path is DIR/NAME.sock; names are file names', () => {
  assert.equal(socketPath('/run/gst', 'office'), '/run/gst/office.sock')
  assert.equal(socketPath('/tmp/x/', 'client-1080'), '/tmp/x/client-1080.sock')
  for (const good of ['a', 'office', 'client-1080', 'vpn_2.home', '0', 'x'.repeat(64)]) assert.equal(isValidInstanceName(good), true, good)
  for (const bad of ['', '.hidden', '-flag', 'a/b', '..', 'a b', 'é', 'x'.repeat(65), 'a\nb']) {
    assert.equal(isValidInstanceName(bad), false, JSON.stringify(bad))
    assert.throws(() => socketPath('/run/gst', bad), UsageError)
  }
  assert.throws(() => assertInstanceName('a/b'), /--name takes 1 to 64 letters/)
})

test('a socket path over the kernel limit is refused with a message naming the limit', () => {
  const dir = '/' + 'd'.repeat(MAX_SOCKET_PATH_BYTES - 10)
  assert.throws(() => socketPath(dir, 'office'), (e: unknown) => e instanceof UsageError && /longer than 107 bytes/.test(e.message))
  assert.equal(socketPath('/' + 'd'.repeat(MAX_SOCKET_PATH_BYTES - 8), 'a').length, MAX_SOCKET_PATH_BYTES)
})

test('instance names from directory entries', () => {
  assert.equal(instanceNameOf('office.sock'), 'office')
  assert.equal(instanceNameOf('client-1080.sock'), 'client-1080')
  assert.equal(instanceNameOf('office'), undefined)
  assert.equal(instanceNameOf('.sock'), undefined)
  assert.equal(instanceNameOf('.x.sock'), undefined)
})

test('cmd: --name or a default derived from the LISTEN port; --control-dir overrides the directory', () => {
  assert.deepEqual(instanceName({ name: 'office' }, 'client', 1080, 7), { name: 'office', explicit: true })
  assert.deepEqual(instanceName({ name: 5 }, 'client', 1080, 7), { name: '5', explicit: true }, 'a numeric name parsed as a number by cac')
  assert.deepEqual(instanceName({}, 'client', 1080, 7), { name: 'client-1080', explicit: false })
  assert.deepEqual(instanceName({}, 'server', 43210, 7), { name: 'server-43210', explicit: false })
  assert.deepEqual(instanceName({}, 'server', 0, 7), { name: 'server-pid7', explicit: false })
  assert.throws(() => instanceName({ name: 'a/b' }, 'client', 1, 1), UsageError)
  assert.throws(() => instanceName({ name: true }, 'client', 1, 1), UsageError)
  assert.equal(controlDirFromFlags({ controlDir: '/tmp/ctl' }), '/tmp/ctl')
  assert.throws(() => controlDirFromFlags({ controlDir: true }), /--control-dir takes a directory/)
})
