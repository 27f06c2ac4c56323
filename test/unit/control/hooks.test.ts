// The hook event diff on fake reports, and the runner's bounds (spawning small real scripts).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { diffReports, hookEnvironment, HookRunner, HookWatcher, type HookEvent } from '../../../src/control/hooks.js'
import { emptyErrorCounters, type StatusReport } from '../../../src/control/status.js'
import { path, report, session } from './fixtures.js'

const names = (events: HookEvent[]): string[] => events.map((e) => `${e.event}${e.session !== undefined ? ` ${e.session}` : ''}${e.path !== undefined ? `/${e.path}` : ''}`)

const connecting = report({ sessions: [session({ id: '-', state: 'connecting', paths: [] })] })
const up1 = report({ sessions: [session({ id: '1', state: 'up', paths: [path({ id: '0', state: 'up' })] })] })

test('diff: the same report twice has no events', () => {
  assert.deepEqual(diffReports(up1, up1), [])
})

test('diff: a client\'s session coming up (placeholder replaced by session 1): session-up then path-up', () => {
  const events = diffReports(connecting, up1)
  assert.deepEqual(names(events), ['session-up 1', 'path-up 1/0'])
  assert.equal(events[0]!.previousState, 'new')
  assert.equal(events[0]!.peer, '127.0.0.1:43210')
  assert.equal(events[1]!.local, '127.0.0.1:40000')
})

test('diff: the session going away: path-down before session-down, state "gone"', () => {
  const backoff = report({ sessions: [session({ id: '-', state: 'backoff', paths: [] })] })
  const events = diffReports(up1, backoff)
  assert.deepEqual(names(events), ['path-down 1/0', 'session-down 1'])
  assert.equal(events[1]!.state, 'gone')
  assert.equal(events[1]!.reason, 'session ended')
})

test('diff: a session changing state in place (VPN): up → down → up', () => {
  const down = report({ sessions: [session({ id: '1', state: 'down', paths: [path({ id: '0', state: 'down' })] })] })
  assert.deepEqual(names(diffReports(up1, down)), ['path-down 1/0', 'session-down 1'])
  assert.equal(diffReports(up1, down)[1]!.state, 'down')
  assert.deepEqual(names(diffReports(down, up1)), ['session-up 1', 'path-up 1/0'])
})

test('diff: one path of two fails and comes back; backup and degraded count as usable', () => {
  const two = (a: 'up' | 'down' | 'degraded' | 'probing', b: 'up' | 'backup' | 'down') => report({ sessions: [session({ id: '7', state: 'up', paths: [path({ id: '0', state: a }), path({ id: '1', state: b })] })] })
  assert.deepEqual(names(diffReports(two('up', 'backup'), two('down', 'backup'))), ['path-down 7/0'])
  assert.deepEqual(names(diffReports(two('down', 'backup'), two('up', 'backup'))), ['path-up 7/0'])
  assert.deepEqual(names(diffReports(two('up', 'up'), two('degraded', 'backup'))), [], 'up → degraded / backup is no up/down edge')
  assert.deepEqual(names(diffReports(two('probing', 'up'), two('up', 'up'))), ['path-up 7/0'])
  const removed = report({ sessions: [session({ id: '7', state: 'up', paths: [path({ id: '0', state: 'up' })] })] })
  const events = diffReports(two('up', 'up'), removed)
  assert.deepEqual(names(events), ['path-down 7/1'])
  assert.equal(events[0]!.reason, 'path removed')
})

test('diff: a server gaining and losing client sessions', () => {
  const none = report({ sessions: [] })
  const two = report({ sessions: [session({ id: '1', peer: '10.0.0.1:1' }), session({ id: '2', peer: '10.0.0.2:2', paths: [path({ id: '0', remote: '10.0.0.2:2' })] })] })
  assert.deepEqual(names(diffReports(none, two)), ['session-up 1', 'path-up 1/0', 'session-up 2', 'path-up 2/0'])
  const onlyTwo = report({ sessions: [two.sessions[1]!] })
  assert.deepEqual(names(diffReports(two, onlyTwo)), ['path-down 1/0', 'session-down 1'])
})

test('diff: handshake counter moves: rekey-failure for an up session\'s peer, handshake-failure otherwise', () => {
  const errors = (count: number, lastSource: string | null): StatusReport['errors'] => {
    const e = emptyErrorCounters()
    e.handshake = { count, lastSource, lastAt: '2025-01-01T00:02:05.000Z' }
    return e
  }
  const before = report({ errors: errors(1, '127.0.0.1:43210') })
  const rekey = diffReports(before, report({ errors: errors(2, '127.0.0.1:43210') }))
  assert.deepEqual(names(rekey), ['rekey-failure 1'])
  assert.equal(rekey[0]!.reason, '1 handshake failure, last from 127.0.0.1:43210')
  const stranger = diffReports(before, report({ errors: errors(4, '192.0.2.9:999') }))
  assert.deepEqual(names(stranger), ['handshake-failure'])
  assert.equal(stranger[0]!.peer, '192.0.2.9:999')
  assert.equal(stranger[0]!.reason, '3 handshake failures, last from 192.0.2.9:999')
})

test('hookEnvironment: GST_* variables, absent fields left out', () => {
  const env = hookEnvironment({ event: 'path-down', session: '3', path: '0', peer: 'p', local: 'l', remote: 'r', state: 'down', previousState: 'up', reason: 'path down' }, { name: 'office', mode: 'vpn-client' }, '2025-01-01T00:00:00.000Z')
  assert.deepEqual(env, {
    GST_EVENT: 'path-down', GST_INSTANCE: 'office', GST_MODE: 'vpn-client', GST_TIME: '2025-01-01T00:00:00.000Z',
    GST_SESSION: '3', GST_PATH: '0', GST_PEER: 'p', GST_LOCAL: 'l', GST_REMOTE: 'r', GST_STATE: 'down', GST_PREVIOUS_STATE: 'up', GST_REASON: 'path down',
  })
  assert.deepEqual(Object.keys(hookEnvironment({ event: 'handshake-failure' }, { name: 'x', mode: 'pipe-server' }, 't')), ['GST_EVENT', 'GST_INSTANCE', 'GST_MODE', 'GST_TIME'])
})

test('HookWatcher: the first report is the baseline; later polls hand each event to the runner', () => {
  let current = up1
  const submitted: Array<Record<string, string>> = []
  const watcher = new HookWatcher({ collect: () => current, runner: { submit: (env) => submitted.push(env) }, intervalMs: 60_000 })
  watcher.start()
  assert.deepEqual(watcher.poll(), [])
  current = report({ sessions: [] })
  assert.deepEqual(names(watcher.poll()), ['path-down 1/0', 'session-down 1'])
  watcher.stop()
  assert.deepEqual(submitted.map((e) => e.GST_EVENT), ['path-down', 'session-down'])
  assert.equal(submitted[1]!.GST_INSTANCE, 'office')
})

function script (dir: string, name: string, body: string): string {
  const file = join(dir, name)
  writeFileSync(file, `#!/bin/sh\n${body}\n`)
  chmodSync(file, 0o755)
  return file
}

class Lines { lines: string[] = []; debug (m: string): void { this.lines.push(m) } info (m: string): void { this.lines.push(m) } warn (m: string): void { this.lines.push(m) } error (m: string): void { this.lines.push(m) } }

test('HookRunner: passes the event as $1 and GST_* verbatim (no shell interpolation); logs output on one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-hook-'))
  try {
    const out = join(dir, 'out')
    const hook = script(dir, 'hook', `printf '%s|%s|%s\\n' "$1" "$GST_PEER" "$BASE" > ${out}\necho line one\necho line two >&2`)
    const log = new Lines()
    const runner = new HookRunner({ script: hook, baseEnv: { BASE: 'kept', PATH: '/usr/bin:/bin' }, log })
    const evil = `$(touch ${join(dir, 'pwned')}); \`touch ${join(dir, 'pwned2')}\``
    runner.submit({ GST_EVENT: 'session-up', GST_PEER: evil })
    await runner.idle()
    assert.equal(readFileSync(out, 'utf8'), `session-up|${evil}|kept\n`)
    assert.equal(existsSync(join(dir, 'pwned')), false)
    assert.equal(existsSync(join(dir, 'pwned2')), false)
    assert.equal(log.lines.length, 1)
    assert.match(log.lines[0]!, /^hook session-up: exit 0 after \d+ ms: line one line two$/)
    assert.deepEqual(runner.counters, { started: 1, succeeded: 1, failed: 0, timedOut: 0, dropped: 0 })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('HookRunner: failing, missing and slow scripts are counted; the slow one is killed at the timeout', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-hook-'))
  try {
    const log = new Lines()
    new HookRunner({ script: script(dir, 'fail', 'echo broken; exit 3'), log }).submit({ GST_EVENT: 'path-down' })
    const failing = new HookRunner({ script: script(dir, 'fail2', 'exit 4'), log })
    failing.submit({ GST_EVENT: 'path-up' })
    await failing.idle()
    assert.equal(failing.counters.failed, 1)
    const missing = new HookRunner({ script: join(dir, 'nope'), log })
    missing.submit({ GST_EVENT: 'session-up' })
    await missing.idle()
    assert.equal(missing.counters.failed, 1)
    const slow = new HookRunner({ script: script(dir, 'slow', 'exec sleep 30'), timeoutMs: 150, log })
    slow.submit({ GST_EVENT: 'session-down' })
    await slow.idle() // the script sleeps 30 s: idle() only resolves this soon because it was killed
    assert.equal(slow.counters.timedOut, 1)
    assert.ok(log.lines.some((l) => /^hook path-up: exit 4 after \d+ ms$/.test(l)), log.lines.join('\n'))
    assert.ok(log.lines.some((l) => /^hook session-up: could not run .*nope: spawn .* ENOENT/.test(l)), log.lines.join('\n'))
    assert.ok(log.lines.some((l) => /^hook session-down: killed after the 150 ms timeout/.test(l)), log.lines.join('\n'))
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('HookRunner: a job the script leaves running does not hold its slot; at the timeout the whole process group is killed', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-hook-'))
  try {
    const log = new Lines()
    // Exits at once but leaves a job holding its stdout: the run ends when the script does.
    const marker = `gst-hook-test-${process.pid}`
    const leaves = new HookRunner({ script: script(dir, 'leaves', `sleep 30 &\necho started ${marker}\nexit 0`), log, timeoutMs: 20_000 })
    leaves.submit({ GST_EVENT: 'path-up' })
    await leaves.idle() // without the exit-based end, this waits for the 30 s job
    assert.equal(leaves.counters.succeeded, 1)
    assert.ok(log.lines.some((l) => l.startsWith(`hook path-up: exit 0 after`) && l.includes(marker)), log.lines.join('\n'))
    // Times out while its child (not exec'd) sleeps: both are killed, through the group.
    const pidFile = join(dir, 'child.pid')
    const slow = new HookRunner({ script: script(dir, 'slow-child', `sleep 30 &\necho $! > ${pidFile}\nwait`), timeoutMs: 300, log })
    slow.submit({ GST_EVENT: 'session-down' })
    await slow.idle()
    assert.equal(slow.counters.timedOut, 1)
    const childPid = Number(readFileSync(pidFile, 'utf8'))
    const alive = (): boolean => { try { process.kill(childPid, 0); return true } catch { return false } }
    for (let i = 0; i < 40 && alive(); i++) await new Promise((resolve) => setTimeout(resolve, 50))
    assert.equal(alive(), false, `the script's child ${childPid} outlived the timeout`)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

test('HookRunner: at most maxRunning at once, maxQueued waiting, the rest dropped and counted; submit never waits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-hook-'))
  try {
    const out = join(dir, 'out')
    const hook = script(dir, 'hook', `echo "start $GST_SESSION" >> ${out}; sleep 0.2; echo "end $GST_SESSION" >> ${out}`)
    const log = new Lines()
    const runner = new HookRunner({ script: hook, maxRunning: 1, maxQueued: 1, log })
    for (const id of ['1', '2', '3', '4']) runner.submit({ GST_EVENT: 'session-up', GST_SESSION: id })
    // submit returned four times while the first hook (0.2 s) is still running: it never waits
    assert.equal(runner.counters.started, 1)
    assert.equal(runner.counters.succeeded + runner.counters.failed + runner.counters.timedOut, 0, 'no hook had finished')
    assert.equal(runner.active, 1)
    assert.equal(runner.queued, 1)
    assert.equal(runner.counters.dropped, 2)
    await runner.idle()
    assert.deepEqual(readFileSync(out, 'utf8').trim().split('\n'), ['start 1', 'end 1', 'start 2', 'end 2'])
    assert.equal(log.lines.filter((l) => /dropped/.test(l)).length, 2)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
