// --config: TOML parsing and validation (keys, kinds, messages), merging with flags, and that
// every long option of the four commands is a valid key (and nothing else is).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { UsageError } from '../../../src/errors.js'
import { applyConfig, CONFIG_SPECS, flagKey, mergeConfig, parseConfig, readConfigFile, type ConfigCommand } from '../../../cmd/config-file.js'

test('parseConfig: every kind, as cac would give the flags', () => {
  const flags = parseConfig(`
# a comment
rekey = 60
keepalive = 2.5
window = "4m"
max-streams = 100
log-level = "debug"
listen = "127.0.0.1:1080"
server = "vpn.example:43210"
key = "@tunnel.key"
`, 'gst-client', 'c.toml')
  assert.deepEqual(flags, { rekey: 60, keepalive: 2.5, window: '4m', maxStreams: 100, logLevel: 'debug', listen: '127.0.0.1:1080', server: 'vpn.example:43210', key: '@tunnel.key' })
  assert.deepEqual(parseConfig('window = 262144', 'gst-server', 's.toml'), { window: 262144 })
})

test('parseConfig: lists take an array or one string', () => {
  assert.deepEqual(parseConfig('path = ["10.0.0.2", "10.0.1.2,backup"]\naddress = "10.9.0.2/24"', 'ttt-client', 't.toml'),
    { path: ['10.0.0.2', '10.0.1.2,backup'], address: ['10.9.0.2/24'] })
})

test('parseConfig: switches take true or false (false is the same as leaving the flag out)', () => {
  assert.deepEqual(parseConfig('pace = true', 'ttt-server', 't.toml'), { pace: true })
  assert.deepEqual(parseConfig('pace = false', 'ttt-client', 't.toml'), {})
  assert.deepEqual(parseConfig('equal-delay = true', 'ttt-client', 't.toml'), { equalDelay: true })
  assert.deepEqual(parseConfig('equal-delay = "all"', 'ttt-client', 't.toml'), { equalDelay: 'all' }, 'a switch that takes a value')
  assert.deepEqual(parseConfig('equal-delay = false', 'ttt-client', 't.toml'), {})
  assert.throws(() => parseConfig('equal-delay = 1', 'ttt-client', 't.toml'), { message: 'config t.toml: "equal-delay" takes true, false or a string (e.g. "all"), not the number 1' })
  assert.throws(() => parseConfig('pace = "yes"', 'ttt-client', 't.toml'), { message: 'config t.toml: "pace" takes true or false, not the string "yes"' })
})

test('parseConfig: an unknown key is an error naming it and listing the valid keys', () => {
  assert.throws(() => parseConfig('rekey = 60\nfrobnicate = 1', 'gst-server', 's.toml'), (err: unknown) => {
    assert.ok(err instanceof UsageError)
    assert.equal(err.message, `config s.toml: unknown key "frobnicate" for gst-server; valid keys: ${Object.keys(CONFIG_SPECS['gst-server']).join(', ')}`)
    return true
  })
  assert.throws(() => parseConfig('log_level = "debug"', 'gst-server', 's.toml'), /unknown key "log_level" \(did you mean "log-level"\?\)/)
  assert.throws(() => parseConfig('path = "10.0.0.2"', 'ttt-server', 's.toml'), /unknown key "path" for ttt-server/, 'path is for clients only')
  assert.throws(() => parseConfig('target = "x:1"', 'gst-client', 'c.toml'), /unknown key "target" for gst-client/)
})

test('parseConfig: a wrong type names the key, what it takes and what it got', () => {
  const cases: Array<[string, ConfigCommand, string]> = [
    ['rekey = "soon"', 'gst-server', 'config f: "rekey" takes a number (e.g. 60), not the string "soon"'],
    ['log-level = 3', 'gst-server', 'config f: "log-level" takes a string (in double quotes), not the number 3'],
    ['path = [1, 2]', 'ttt-client', 'config f: "path" takes a string or an array of strings (e.g. ["a", "b"]), not an array'],
    ['window = true', 'gst-client', 'config f: "window" takes a number of bytes or a size string (e.g. 262144 or "256k"), not the boolean true'],
    ['[rekey]\nx = 1', 'gst-client', 'config f: "rekey" takes a number (e.g. 60), not a table'],
    ['key = 1979-05-27', 'ttt-server', 'config f: "key" takes a string (in double quotes), not a date'],
  ]
  for (const [text, command, message] of cases) assert.throws(() => parseConfig(text, command, 'f'), { name: 'UsageError', message }, text)
})

test('parseConfig: TOML syntax errors give the line and column in one line', () => {
  assert.throws(() => parseConfig('rekey = 60\nname = "unterminated', 'gst-server', 'bad.toml'), (err: unknown) => {
    assert.ok(err instanceof UsageError)
    assert.match(err.message, /^config bad\.toml: line 2, column \d+: .+$/)
    assert.doesNotMatch(err.message, /\n/)
    return true
  })
  assert.throws(() => parseConfig('rekey = 1\nrekey = 2', 'gst-server', 'dup.toml'), /^UsageError: config dup\.toml: line 2/)
})

test('mergeConfig: flags given on the command line win, lists are replaced whole', () => {
  const file = { rekey: 60, logLevel: 'debug', path: ['a', 'b'] }
  assert.deepEqual(mergeConfig(file, { rekey: 5, path: ['c'], logLevel: undefined, '--': [] }), { rekey: 5, logLevel: 'debug', path: ['c'], '--': [] })
  assert.equal(flagKey('handshake-timeout'), 'handshakeTimeout')
})

test('applyConfig: positional arguments from the file when not on the command line; a missing file is one line', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-config-'))
  try {
    const file = join(dir, 'server.toml')
    writeFileSync(file, 'listen = "0.0.0.0:43210"\ntarget = "127.0.0.1:3128"\nkey = "@k"\nrekey = 30\n')
    const r = await applyConfig('gst-server', { config: file, rekey: undefined }, { listen: undefined, target: '127.0.0.1:8080', key: undefined })
    assert.deepEqual(r.positional, { listen: '0.0.0.0:43210', target: '127.0.0.1:8080', key: '@k' })
    assert.deepEqual(r.flags, { config: file, rekey: 30 })
    const none = await applyConfig('gst-server', { rekey: 1 } as { config?: unknown, rekey: number }, { listen: 'x' })
    assert.deepEqual(none, { flags: { rekey: 1 }, positional: { listen: 'x' } })
    await assert.rejects(readConfigFile(join(dir, 'nope.toml'), 'gst-server'), { name: 'UsageError', message: `couldn't read config ${join(dir, 'nope.toml')}: No such file or directory` })
    await assert.rejects(applyConfig('gst-server', { config: [file, file] }), { message: '--config takes one FILE' })
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})

// The wiring: every long option of each command (from its --help) is a config key, and every key
// but the positional ones is an option. ttt's help needs neither root nor a TUN.
const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')
function helpOptions (bin: string, args: string[]): string[] {
  const r = spawnSync(process.execPath, [join(root, 'cmd', bin), ...args, '--help'], { encoding: 'utf8' })
  assert.equal(r.status, 0, r.stderr)
  return [...r.stdout.matchAll(/^\s+(?:-\w, )?--([a-z-]+)/gm)].map((m) => m[1]!).filter((o) => o !== 'help' && o !== 'version' && o !== 'config')
}

const positional: Record<ConfigCommand, string[]> = { 'gst-server': ['listen', 'target', 'key'], 'gst-client': ['listen', 'server', 'key'], 'ttt-server': [], 'ttt-client': [] }
const binaries: Record<ConfigCommand, [string, string[]]> = {
  'gst-server': ['gst-server.js', []], 'gst-client': ['gst-client.js', []], 'ttt-server': ['ttt.js', ['server']], 'ttt-client': ['ttt.js', ['client']],
}

for (const command of Object.keys(binaries) as ConfigCommand[]) {
  test(`${command}: config keys are exactly its long options (plus positional arguments), with --metrics, --on-event, --config`, () => {
    const [bin, args] = binaries[command]
    const options = helpOptions(bin, args)
    for (const o of ['metrics', 'on-event', 'on-event-timeout']) assert.ok(options.includes(o), `${command} --help lists --${o}`)
    assert.deepEqual(Object.keys(CONFIG_SPECS[command]).filter((k) => !positional[command].includes(k)).sort(), [...options].sort())
  })
}

test('ttt: a bad config is refused before any TUN is opened (exit 2, one line)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-config-'))
  try {
    const file = join(dir, 'ttt.toml')
    writeFileSync(file, 'server = "127.0.0.1:5000"\nkey = "@k"\npaths = ["10.0.0.2"]\n')
    const r = spawnSync(process.execPath, [join(root, 'cmd', 'ttt.js'), 'client', '--config', file], { encoding: 'utf8' })
    assert.equal(r.status, 2)
    assert.match(r.stderr, /^ttt: config .*ttt\.toml: unknown key "paths" for ttt-client; valid keys: server, path, key, /)
    assert.equal(r.stderr.trim().split('\n').length, 1)
    writeFileSync(file, 'key = "@k"\nmetrics = "nowhere"\n')
    const m = spawnSync(process.execPath, [join(root, 'cmd', 'ttt.js'), 'server', '--config', file], { encoding: 'utf8' })
    assert.equal(m.status, 2)
    assert.match(m.stderr, /^ttt: --metrics/)
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
