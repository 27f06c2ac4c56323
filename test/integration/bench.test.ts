// `gst bench`, spawned as a user runs it: the table has every packet size and the handshake rate,
// --json has the same in numbers, a bad --seconds is one line and exit 2. No timing thresholds.
import { test, after } from 'node:test'
import assert from 'node:assert/strict'
import { ProcessGroup, binPath, run } from '../helpers/processes.js'

const group = new ProcessGroup()
after(async () => { await group.killAll() })

const SIZES = [20, 64, 256, 512, 1024, 1280, 1420, 1500, 65536]
const env = { PATH: process.env.PATH ?? '/usr/bin:/bin' }

async function gstBench (args: string[]): Promise<{ code: number | null, stdout: string, stderr: string }> {
  return await run(group, 'gst', process.execPath, [binPath('gst'), 'bench', ...args], { env, timeoutMs: 60_000 })
}

test('gst bench prints a row for every packet size and the handshake rate, exit 0', async () => {
  const r = await gstBench(['--seconds', '0.01'])
  assert.equal(r.code, 0, r.stderr)
  assert.equal(r.stderr, '')
  const lines = r.stdout.split('\n')
  const header = lines.findIndex((l) => /bytes\s+seal MB\/s\s+seal ns\/pkt\s+open MB\/s\s+open ns\/pkt/.test(l))
  assert.ok(header >= 0, r.stdout)
  const rows = lines.slice(header + 1, header + 1 + SIZES.length).map((l) => l.trim().split(/\s+/))
  assert.deepEqual(rows.map((cells) => Number(cells[0])), SIZES, r.stdout)
  for (const cells of rows) {
    assert.equal(cells.length, 5, cells.join(' '))
    for (const cell of cells) assert.ok(Number(cell) > 0, `${cells.join(' ')}: "${cell}" is not a positive number`)
  }
  assert.match(r.stdout, /sealRange\/openRange/)
  assert.match(r.stdout, /^handshake NNpsk0 \(initiator \+ responder\): \d+ per second, \d+ µs each$/m)
})

test('gst bench --json: the same figures as numbers', async () => {
  const r = await gstBench(['--seconds', '0.01', '--json'])
  assert.equal(r.code, 0, r.stderr)
  const report = JSON.parse(r.stdout) as {
    secondsPerRow: number
    aead: { cipher: string, implementation: string, rows: Array<{ bytes: number, seal: Record<string, number>, open: Record<string, number> }> }
    handshake: { pattern: string, perSec: number, usPerHandshake: number, handshakes: number }
  }
  assert.equal(report.secondsPerRow, 0.01)
  assert.equal(report.aead.cipher, 'chacha20-poly1305')
  assert.deepEqual(report.aead.rows.map((row) => row.bytes), SIZES)
  for (const row of report.aead.rows) {
    for (const f of [row.seal, row.open]) {
      assert.ok(f.packets! >= 1 && f.mbPerSec! > 0 && f.nsPerPacket! > 0, JSON.stringify(row))
    }
  }
  assert.match(report.handshake.pattern, /NNpsk0/)
  assert.ok(report.handshake.handshakes >= 1 && report.handshake.perSec > 0 && report.handshake.usPerHandshake > 0)
})

test('gst bench --seconds nonsense: one line, exit 2', async () => {
  const r = await gstBench(['--seconds', 'soon'])
  assert.equal(r.code, 2)
  assert.equal(r.stdout, '')
  assert.equal(r.stderr, 'gst: --seconds takes a number of seconds per row, more than 0 and at most 600 (got "soon")\n')
})

test('gst --help lists bench', async () => {
  const r = await run(group, 'gst', process.execPath, [binPath('gst'), '--help'], { env })
  assert.equal(r.code, 0)
  assert.match(r.stdout, /^\s+bench\s+Crypto benchmark/m)
})
