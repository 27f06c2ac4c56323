// Metrics from a StatusReport: families, names and values, one report per scrape, series of ended
// sessions gone; and the HTTP endpoint.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { StatusMetrics, MetricsServer } from '../../../src/control/metrics.js'
import { emptyErrorCounters, type StatusReport } from '../../../src/control/status.js'
import { parsePrometheusText, sampleValue } from '../../helpers/prom-text.js'
import { path, report, session } from './fixtures.js'

function vpnReport (): StatusReport {
  const errors = emptyErrorCounters()
  errors.decrypt = { count: 5, lastSource: '192.0.2.1:5000', lastAt: '2025-01-01T00:02:00.000Z' }
  return report({
    instance: { ...report().instance, mode: 'vpn-client', name: 'office' },
    sessions: [session({
      id: '1', state: 'up', rttMs: 20, rekeys: 3, bytesIn: 1000, bytesOut: 2000, streams: null,
      paths: [
        path({ id: '0', local: '10.0.0.2:40000', remote: '192.0.2.1:5000', state: 'up', rttMs: 12.5, lossPct: 2, rateBitsPerSec: 20e6, mtuBytes: 1422, bytesIn: 600, bytesOut: 1500 }),
        path({ id: '1', local: '10.0.1.2:40001', remote: '192.0.2.1:5000', state: 'backup', rttMs: null, lossPct: null, rateBitsPerSec: null, mtuBytes: null, bytesIn: 400, bytesOut: 500 }),
      ],
    })],
    streams: null,
    errors,
  })
}

test('every family is exported with its type, from one report', async () => {
  let reads = 0
  const metrics = new StatusMetrics({ collect: () => { reads++; return vpnReport() }, processMetrics: false })
  const text = await metrics.render()
  assert.equal(reads, 1)
  const x = parsePrometheusText(text)
  const types = Object.fromEntries(x.types)
  assert.deepEqual(types, {
    gst_instance_info: 'gauge', gst_uptime_seconds: 'gauge', gst_sessions: 'gauge', gst_streams_active: 'gauge',
    gst_streams_opened_total: 'counter', gst_streams_refused_total: 'counter',
    gst_session_received_bytes_total: 'counter', gst_session_sent_bytes_total: 'counter', gst_session_rtt_seconds: 'gauge',
    gst_session_rekeys_total: 'counter', gst_path_received_bytes_total: 'counter', gst_path_sent_bytes_total: 'counter',
    gst_path_rtt_seconds: 'gauge', gst_path_loss_ratio: 'gauge', gst_path_rate_bits_per_second: 'gauge', gst_path_mtu_bytes: 'gauge',
    gst_path_state: 'gauge', gst_errors_total: 'counter',
  })
  assert.equal(sampleValue(x, 'gst_instance_info', { name: 'office', mode: 'vpn-client' }), 1)
  assert.equal(sampleValue(x, 'gst_uptime_seconds'), 125)
  assert.equal(sampleValue(x, 'gst_sessions', { state: 'up' }), 1)
  assert.equal(sampleValue(x, 'gst_sessions', { state: 'backoff' }), 0)
  assert.equal(sampleValue(x, 'gst_session_received_bytes_total', { session: '1' }), 1000)
  assert.equal(sampleValue(x, 'gst_session_sent_bytes_total', { session: '1' }), 2000)
  assert.equal(sampleValue(x, 'gst_session_rekeys_total', { session: '1' }), 3)
  assert.equal(sampleValue(x, 'gst_session_rtt_seconds', { session: '1' }), 0.02)
  const p0 = { session: '1', path: '0', local: '10.0.0.2:40000', remote: '192.0.2.1:5000' }
  assert.equal(sampleValue(x, 'gst_path_rtt_seconds', p0), 0.0125)
  assert.equal(sampleValue(x, 'gst_path_loss_ratio', p0), 0.02)
  assert.equal(sampleValue(x, 'gst_path_rate_bits_per_second', p0), 20e6)
  assert.equal(sampleValue(x, 'gst_path_mtu_bytes', p0), 1422)
  assert.equal(sampleValue(x, 'gst_path_sent_bytes_total', p0), 1500)
  assert.equal(sampleValue(x, 'gst_path_received_bytes_total', { path: '1' }), 400)
  assert.equal(sampleValue(x, 'gst_path_state', { path: '0', state: 'up' }), 1)
  assert.equal(sampleValue(x, 'gst_path_state', { path: '0', state: 'backup' }), 0)
  assert.equal(sampleValue(x, 'gst_path_state', { path: '1', state: 'backup' }), 1)
  // unknown values have no sample rather than a made-up 0
  assert.equal(x.samples.filter((s) => s.name === 'gst_path_rtt_seconds' && s.labels.path === '1').length, 0)
  assert.equal(x.samples.filter((s) => s.name === 'gst_path_mtu_bytes').length, 1)
  // VPN: no streams (families without labels always have a sample in prom-client: 0)
  assert.equal(sampleValue(x, 'gst_streams_active'), 0)
  assert.equal(sampleValue(x, 'gst_streams_opened_total'), 0)
  assert.equal(sampleValue(x, 'gst_errors_total', { kind: 'decrypt' }), 5)
  assert.equal(sampleValue(x, 'gst_errors_total', { kind: 'replay' }), 0)
})

test('each scrape reads a fresh report: values move, ended sessions lose their series', async () => {
  let current = report()
  const metrics = new StatusMetrics({ collect: () => current, processMetrics: false })
  let x = parsePrometheusText(await metrics.render())
  assert.equal(sampleValue(x, 'gst_streams_opened_total'), 12)
  assert.equal(sampleValue(x, 'gst_session_sent_bytes_total', { session: '1' }), 20 * 1024 * 1024)
  current = report({ sessions: [session({ id: '2', bytesOut: 10 })], streams: { active: 0, total: 13, refused: 1 } })
  x = parsePrometheusText(await metrics.render())
  assert.equal(sampleValue(x, 'gst_streams_opened_total'), 13)
  assert.equal(sampleValue(x, 'gst_streams_refused_total'), 1)
  assert.equal(sampleValue(x, 'gst_streams_active'), 0)
  assert.equal(x.samples.filter((s) => s.labels.session === '1').length, 0)
  assert.equal(sampleValue(x, 'gst_session_sent_bytes_total', { session: '2' }), 10)
})

test('label values with quotes and backslashes are escaped (and parse back)', async () => {
  const metrics = new StatusMetrics({ collect: () => report({ instance: { ...report().instance, name: 'a"b\\c' } }), processMetrics: false })
  const x = parsePrometheusText(await metrics.render())
  assert.equal(sampleValue(x, 'gst_instance_info', { name: 'a"b\\c' }), 1)
})

test('process metrics are on by default, prefixed gst_', async () => {
  const x = parsePrometheusText(await new StatusMetrics({ collect: () => report() }).render())
  assert.ok(x.types.has('gst_process_cpu_seconds_total'))
})

test('MetricsServer: GET /metrics 200 text format; other paths 404; a failing provider 500', async () => {
  let fail = false
  const metrics = new StatusMetrics({ collect: () => { if (fail) throw new Error('boom'); return report() }, processMetrics: false })
  const server = new MetricsServer({ host: '127.0.0.1', port: 0, metrics })
  const { port } = await server.start()
  try {
    const ok = await fetch(`http://127.0.0.1:${port}/metrics`)
    assert.equal(ok.status, 200)
    assert.match(ok.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
    assert.equal(sampleValue(parsePrometheusText(await ok.text()), 'gst_sessions', { state: 'up' }), 1)
    assert.equal((await fetch(`http://127.0.0.1:${port}/nope`)).status, 404)
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`, { method: 'POST' })).status, 405)
    fail = true
    assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 500)
  } finally {
    await server.close()
  }
})
