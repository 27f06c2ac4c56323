// The native UDP socket (recvmmsg/sendmmsg) on loopback, and its address slots: no root needed.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import dgram from 'node:dgram'
import { once } from 'node:events'
import { UdpSocket, encodeAddress, decodeAddress, decodeLocalAddress, ADDR_BYTES, PEER_ADDR_BYTES } from '../../src/native/index.js'

test('address slots round-trip IPv4 and IPv6 in canonical form', () => {
  const cases: Array<[string, number]> = [
    ['127.0.0.1', 1], ['10.255.0.254', 65535], ['::1', 5000], ['::', 0], ['fd00::1', 443],
    ['2001:db8:0:1:0:0:0:1', 9], ['2001:db8::1:0:0:1', 80], ['1:2:3:4:5:6:7:8', 7], ['fe80::', 1],
  ]
  const slots = new Uint8Array(ADDR_BYTES * 2)
  for (const [address, port] of cases) {
    encodeAddress(address, port, slots, 1)
    const canonical = address === '2001:db8:0:1:0:0:0:1' ? '2001:db8:0:1::1' : address
    assert.deepEqual(decodeAddress(slots, 1), { address: canonical, port }, address)
  }
  assert.throws(() => encodeAddress('localhost', 1, slots), { code: 'ERR_INVALID_ARG' })
})

test('a batch sent with sendmmsg arrives as batches from recvmmsg with the sender address', async (t) => {
  const received: string[] = []
  const peers = new Set<string>()
  let batches = 0
  const b = UdpSocket.open({ address: '127.0.0.1', batchPackets: 16 })
  t.after(() => b.close())
  b.onBatch((count) => {
    batches++
    for (let i = 0; i < count; i++) {
      received.push(Buffer.from(b.arena.subarray(i * b.slotBytes, i * b.slotBytes + b.lengths[i]!)).toString())
      const peer = decodeAddress(b.addrs, i)
      peers.add(`${peer.address}:${peer.port}`)
    }
  })
  b.start()
  const a = UdpSocket.open({ address: '127.0.0.1' })
  t.after(() => a.close())

  const count = 100
  const slotBytes = 64
  const arena = new Uint8Array(count * slotBytes)
  const lengths = new Uint32Array(count)
  const addrs = new Uint8Array(count * ADDR_BYTES)
  for (let i = 0; i < count; i++) {
    const text = Buffer.from(`datagram ${i}`)
    arena.set(text, i * slotBytes)
    lengths[i] = text.length
    encodeAddress('127.0.0.1', b.port, addrs, i)
  }
  assert.equal(a.sendSlots(arena, slotBytes, lengths, addrs, count), count)
  assert.equal(a.sendTo(Buffer.from('single'), 6, addrs, 0), true)
  // Sender and receiver share this event loop: everything is queued before the first read.
  for (const deadline = Date.now() + 5000; received.length < count + 1 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(received, [...Array.from({ length: count }, (_, i) => `datagram ${i}`), 'single'])
  assert.deepEqual([...peers], [`127.0.0.1:${a.port}`])
  assert.equal(batches, Math.ceil((count + 1) / 16), 'full batches of 16')
  assert.equal(b.stats().readPackets, count + 1)
  assert.equal(a.stats().writePackets, count + 1)
})

test('refused datagrams are counted, never thrown; dgram peers interoperate', async (t) => {
  const a = UdpSocket.open({ address: '127.0.0.1' })
  t.after(() => a.close())
  const peer = dgram.createSocket('udp4')
  t.after(() => peer.close())
  peer.bind(0, '127.0.0.1')
  await once(peer, 'listening')
  const addrs = new Uint8Array(ADDR_BYTES * 3)
  encodeAddress('127.0.0.1', peer.address().port, addrs, 0)
  encodeAddress('127.0.0.1', peer.address().port, addrs, 1)
  encodeAddress('127.0.0.1', peer.address().port, addrs, 2)
  // Slot 1 is longer than any UDP datagram can be: EMSGSIZE for it alone.
  const slotBytes = 70_000
  const arena = new Uint8Array(3 * slotBytes)
  const lengths = new Uint32Array([5, 66_000, 5])
  arena.set(Buffer.from('first'), 0)
  arena.set(Buffer.from('third'), 2 * slotBytes)
  const got: string[] = []
  peer.on('message', (m) => got.push(m.toString()))
  assert.equal(a.sendSlots(arena, slotBytes, lengths, addrs, 3), 2)
  for (const deadline = Date.now() + 5000; got.length < 2 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(got, ['first', 'third'])
  assert.equal(a.stats().writeErrors, 1)
  assert.equal(a.stats().lastErrno, 90, 'EMSGSIZE')
  assert.throws(() => UdpSocket.open({ address: '127.0.0.1', port: a.port }), { code: 'EADDRINUSE', message: /couldn't bind UDP socket to 127.0.0.1:\d+: EADDRINUSE/ })
})

test('runs of equal-sized datagrams (UDP_SEGMENT) arrive as the same datagrams, to a coalescing (UDP_GRO) reader and to a plain one', async (t) => {
  const coalescing = UdpSocket.open({ address: '127.0.0.1', coalesce: true, batchPackets: 8 })
  t.after(() => coalescing.close())
  const got: Buffer[] = []
  let contiguous = 0
  coalescing.onBatch((count) => {
    for (let i = 0; i < count; i++) {
      got.push(Buffer.from(coalescing.arena.subarray(coalescing.offsets[i]!, coalescing.offsets[i]! + coalescing.lengths[i]!)))
      if (i > 0 && coalescing.offsets[i] === coalescing.offsets[i - 1]! + coalescing.lengths[i - 1]!) contiguous++
    }
  })
  coalescing.start()
  const plain = dgram.createSocket('udp4')
  t.after(() => plain.close())
  plain.bind(0, '127.0.0.1')
  await once(plain, 'listening')
  const gotPlain: Buffer[] = []
  plain.on('message', (m) => gotPlain.push(m))
  const a = UdpSocket.open({ address: '127.0.0.1' })
  t.after(() => a.close())

  // Runs that must split: a size change, a shorter last datagram, a new address, an empty datagram.
  const sizes = [...Array(70).fill(1200), 1200, 300, ...Array(5).fill(700), 699, 699, 0, ...Array(3).fill(64)]
  const toPlain = (i: number): boolean => i >= 75 && i < 78
  const slotBytes = 1500
  const arena = new Uint8Array(sizes.length * slotBytes)
  const lengths = new Uint32Array(sizes)
  const addrs = new Uint8Array(sizes.length * ADDR_BYTES)
  const sent: Buffer[] = []
  sizes.forEach((size, i) => {
    const d = Buffer.alloc(size)
    for (let j = 0; j < size; j++) d[j] = (i * 7 + j) & 0xff
    arena.set(d, i * slotBytes)
    sent.push(d)
    encodeAddress('127.0.0.1', toPlain(i) ? plain.address().port : coalescing.port, addrs, i)
  })
  assert.equal(a.sendSlots(arena, slotBytes, lengths, addrs, sizes.length), sizes.length)
  const wanted = sent.filter((_, i) => !toPlain(i))
  for (const deadline = Date.now() + 5000; (got.length < wanted.length || gotPlain.length < 3) && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
  assert.deepEqual(got.map((d) => d.toString('hex')), wanted.map((d) => d.toString('hex')))
  assert.deepEqual(gotPlain.map((d) => d.toString('hex')), sent.filter((_, i) => toPlain(i)).map((d) => d.toString('hex')))
  assert.equal(a.stats().writePackets, sizes.length)
  assert.equal(coalescing.stats().readPackets, wanted.length)
  assert.ok(contiguous > 0, 'some datagrams were handed over coalesced (back to back in one buffer)')
})

// 127.0.0.2 is a local address too, but the route to 127.0.0.1 picks 127.0.0.1 as the source: a
// wildcard socket that did not set the source would answer a client of 127.0.0.2 from 127.0.0.1.
for (const listen of ['0.0.0.0', '::']) {
  for (const coalesce of [false, true]) {
    test(`a socket on ${listen}${coalesce ? ' (GRO)' : ''} learns where each datagram arrived and replies from there`, { timeout: 10000 }, async (t) => {
      const server = UdpSocket.open({ address: listen, coalesce })
      t.after(() => server.close())
      const client = dgram.createSocket('udp4')
      t.after(() => client.close())
      client.bind(0, '127.0.0.1')
      await once(client, 'listening')
      const replies: string[] = []
      client.on('message', (message, from) => replies.push(`${message.toString()} from ${from.address}`))

      const arrived = new Promise<Uint8Array>((resolve) => server.onBatch((count) => {
        if (count > 0) resolve(server.addrs.slice(0, ADDR_BYTES))
      }))
      server.start()
      client.send('hello', server.port, '127.0.0.2')
      const slot = await arrived
      assert.equal(decodeLocalAddress(slot), listen === '::' ? '::ffff:7f00:2' : '127.0.0.2')
      assert.equal(decodeAddress(slot).port, client.address().port)

      // One reply with sendTo, a run of three equal datagrams with sendSlots (one UDP_SEGMENT
      // message where the kernel has it), and a control whose slot forgot the local address.
      assert.equal(server.sendTo(Buffer.from('single'), 6, slot, 0), true)
      const arena = new Uint8Array(3 * 16)
      const lengths = new Uint32Array([8, 8, 8])
      const addrs = new Uint8Array(3 * ADDR_BYTES)
      for (let i = 0; i < 3; i++) {
        arena.set(Buffer.from(`run ${i}   `), i * 16)
        addrs.set(slot, i * ADDR_BYTES)
      }
      assert.equal(server.sendSlots(arena, 16, lengths, addrs, 3), 3)
      const forgotten = slot.slice()
      forgotten.fill(0, PEER_ADDR_BYTES)
      assert.equal(server.sendTo(Buffer.from('control'), 7, forgotten, 0), true)

      for (const deadline = Date.now() + 5000; replies.length < 5 && Date.now() < deadline;) await new Promise((resolve) => setTimeout(resolve, 10))
      assert.deepEqual(replies, [
        'single from 127.0.0.2', 'run 0    from 127.0.0.2', 'run 1    from 127.0.0.2', 'run 2    from 127.0.0.2', 'control from 127.0.0.1',
      ])
    })
  }
}

test('a socket bound to one address leaves the local half of its slots empty', { timeout: 10000 }, async (t) => {
  const server = UdpSocket.open({ address: '127.0.0.2' })
  t.after(() => server.close())
  const client = dgram.createSocket('udp4')
  t.after(() => client.close())
  const arrived = new Promise<Uint8Array>((resolve) => server.onBatch(() => resolve(server.addrs.slice(0, ADDR_BYTES))))
  server.start()
  client.send('hello', server.port, '127.0.0.2')
  const slot = await arrived
  assert.equal(decodeLocalAddress(slot), undefined)
  assert.equal(decodeAddress(slot).address, '127.0.0.1')
})
