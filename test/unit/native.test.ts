// The native addon's typed wrapper, on loopback sockets only: no root, no TUN.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import net from 'node:net'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { readFileSync } from 'node:fs'
import {
  TunDevice, NativeError, setBufferSize, getTcpInfo, readTcpInfo, setNotsentLowat, setCongestionControl, getCongestionControl, setMtuDiscover, getPathMtu, bindToDevice, socketFd,
  TCP_INFO_FIELDS, TCP_INFO_INDEX,
} from '../../src/native/index.js'

async function tcpPair (): Promise<{ client: net.Socket, close: () => void }> {
  const server = net.createServer((s) => s.resume())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1')
  await once(client, 'connect')
  return { client, close: () => { client.destroy(); server.close() } }
}

test('TCP_INFO reads as an object and into a preallocated array with the same values', async (t) => {
  const { client, close } = await tcpPair()
  t.after(close)
  client.write(Buffer.alloc(100_000))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const info = getTcpInfo(client)
  assert.deepEqual(Object.keys(info), [...TCP_INFO_FIELDS])
  assert.equal(info.state, 1, 'ESTABLISHED')
  assert.ok(info.rttUs > 0 && info.rttUs < 1_000_000, `rtt ${info.rttUs} us`)
  assert.ok(info.sndCwndPkts >= 1)
  assert.ok(info.bytesAcked >= 100_000, `acked ${info.bytesAcked}`)
  const out = new Float64Array(TCP_INFO_FIELDS.length)
  assert.equal(readTcpInfo(client, out), out)
  assert.equal(out[TCP_INFO_INDEX.state], 1)
  assert.equal(out[TCP_INFO_INDEX.sndMssBytes], info.sndMssBytes)
})

test('socket options apply to net and dgram sockets and fail with typed errors', async (t) => {
  const { client, close } = await tcpPair()
  t.after(close)
  setNotsentLowat(client, 16_384)
  const udp = dgram.createSocket('udp4')
  t.after(() => udp.close())
  assert.throws(() => socketFd(udp), { name: 'NativeError', code: 'EBADF' })
  udp.bind(0, '127.0.0.1')
  await once(udp, 'listening')
  udp.connect((udp.address()).port, '127.0.0.1')
  await once(udp, 'connect')
  // The kernel reports twice the request; unprivileged requests are capped by rmem_max.
  const granted = setBufferSize(udp, 'receive', 1 << 20)
  assert.ok(process.getuid?.() === 0 ? granted === 2 << 20 : granted > 0, `granted ${granted}`)
  setMtuDiscover(udp, 'probe')
  setMtuDiscover(udp, 'do')
  assert.equal(getPathMtu(udp), Math.min(65_535, Number(readFileSync('/sys/class/net/lo/mtu', 'utf8'))), 'loopback MTU, capped at the IP maximum')
  assert.throws(() => getTcpInfo(socketFd(udp)), (e: unknown) => e instanceof NativeError && e.code === 'EOPNOTSUPP' && /TCP_INFO/.test(e.message))
  assert.throws(() => bindToDevice(udp, 'gst-none0'), (e: unknown) => e instanceof NativeError && ['ENODEV', 'EPERM'].includes(e.code) && /couldn't bind socket to device gst-none0/.test(e.message))
  assert.throws(() => setNotsentLowat(1_000_000, 1), { code: 'EBADF', message: /couldn't set TCP_NOTSENT_LOWAT=1 on fd 1000000: EBADF/ })
})

test('a TCP socket takes the congestion control asked for (reno: always allowed) and an unknown one fails with what to check', async (t) => {
  const { client, close } = await tcpPair()
  t.after(close)
  setCongestionControl(client, 'reno')
  assert.equal(getCongestionControl(client), 'reno')
  assert.throws(() => setCongestionControl(client, 'no-such-cc'), { name: 'NativeError', code: 'ENOENT', message: /couldn't set TCP congestion control no-such-cc .*tcp_available_congestion_control/ })
  assert.equal(getCongestionControl(client), 'reno', 'a failed change leaves the algorithm as it was')
  assert.throws(() => setCongestionControl(client, 'x'.repeat(16)), { code: 'ERR_INVALID_ARG', message: /at most 15 bytes/ })
})

test('TUN open errors are readable and typed', () => {
  assert.throws(() => TunDevice.open({ name: 'a-name-longer-than-15' }), { name: 'NativeError', code: 'ERR_INVALID_ARG', message: /at most 15 bytes/ })
  assert.throws(() => TunDevice.open({ mtuBytes: 9000, slotBytes: 2048 }), { code: 'ERR_INVALID_ARG', message: /MTU 9000 does not fit/ })
  if (process.getuid?.() !== 0) {
    // EACCES when /dev/net/tun itself is not ours to open, EPERM when creating the device is refused.
    assert.throws(() => TunDevice.open(), (e: unknown) => e instanceof NativeError && ['EPERM', 'EACCES'].includes(e.code) &&
      /^couldn't (open \/dev\/net\/tun|attach TUN device \(any\)): E(PERM|ACCES) \(needs CAP_NET_ADMIN\)$/.test(e.message))
  }
})
