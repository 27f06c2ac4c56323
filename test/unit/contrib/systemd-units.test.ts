// contrib/systemd: each templated unit starts the right binary with `--config /etc/gst/%i.toml`,
// names the instance, runs as gst with only the capabilities it needs, is sandboxed, and passes
// `systemd-analyze verify` (when installed) without a single warning. The example configs are
// valid for their command.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseConfig, type ConfigCommand } from '../../../cmd/config-file.js'

// dist/test/unit/contrib/ -> the repository root.
const root = fileURLToPath(new URL('../../../../', import.meta.url))
const unitDir = join(root, 'contrib', 'systemd')

/** A unit file as section -> key -> every value (keys may repeat). Comments and blanks skipped. */
type UnitFile = Map<string, Map<string, string[]>>

function parseUnit (text: string): UnitFile {
  const unit: UnitFile = new Map()
  let section: Map<string, string[]> | undefined
  for (const raw of text.split('\n')) {
    const line = raw.trim()
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue
    const header = /^\[(\w+)\]$/.exec(line)
    if (header !== null) {
      section = new Map()
      unit.set(header[1]!, section)
      continue
    }
    const eq = line.indexOf('=')
    assert.ok(section !== undefined && eq > 0, `not a unit line: ${line}`)
    const key = line.slice(0, eq).trim()
    section.set(key, [...(section.get(key) ?? []), line.slice(eq + 1).trim()])
  }
  return unit
}

/** The one value of Section.Key (asserting it is set exactly once). */
function one (unit: UnitFile, section: string, key: string): string {
  const values = unit.get(section)?.get(key)
  assert.equal(values?.length, 1, `${section}.${key} set once (got ${JSON.stringify(values)})`)
  return values![0]!
}

const units: Array<{ file: string, command: ConfigCommand, exec: string, tun: boolean }> = [
  { file: 'gst-server@.service', command: 'gst-server', exec: 'gst-server', tun: false },
  { file: 'gst-client@.service', command: 'gst-client', exec: 'gst-client', tun: false },
  { file: 'ttt-server@.service', command: 'ttt-server', exec: 'ttt server', tun: true },
  { file: 'ttt-client@.service', command: 'ttt-client', exec: 'ttt client', tun: true },
]

const HARDENING: Array<[string, string]> = [
  ['NoNewPrivileges', 'yes'], ['ProtectSystem', 'strict'], ['ProtectHome', 'yes'], ['PrivateTmp', 'yes'],
  ['ProtectKernelTunables', 'yes'], ['ProtectKernelModules', 'yes'], ['ProtectControlGroups', 'yes'],
  ['RestrictNamespaces', 'yes'], ['RestrictSUIDSGID', 'yes'], ['LockPersonality', 'yes'], ['UMask', '0077'],
]

for (const u of units) {
  test(`${u.file}: ExecStart, config, name, control dir, user, restart`, () => {
    const unit = parseUnit(readFileSync(join(unitDir, u.file), 'utf8'))
    assert.deepEqual([...unit.keys()], ['Unit', 'Service', 'Install'])
    const exec = one(unit, 'Service', 'ExecStart')
    assert.ok(exec.startsWith(`${u.exec} `), exec)
    assert.match(exec, / --config \/etc\/gst\/%i\.toml(\s|$)/)
    assert.match(exec, / --name %i(\s|$)/)
    assert.match(exec, / --control-dir \/run\/gst(\s|$)/)
    assert.equal(one(unit, 'Service', 'User'), 'gst')
    assert.equal(one(unit, 'Service', 'RuntimeDirectory'), 'gst')
    assert.equal(one(unit, 'Service', 'RuntimeDirectoryPreserve'), 'yes', 'one instance stopping must not remove the others\' sockets')
    assert.equal(one(unit, 'Service', 'Restart'), 'on-failure')
    assert.equal(one(unit, 'Service', 'RestartPreventExitStatus'), '2', 'a usage error (exit 2) is not retried')
    assert.equal(one(unit, 'Install', 'WantedBy'), 'multi-user.target')
    assert.match(one(unit, 'Unit', 'Description'), /%i/)
  })

  test(`${u.file}: capabilities and sandbox`, () => {
    const unit = parseUnit(readFileSync(join(unitDir, u.file), 'utf8'))
    for (const [key, value] of HARDENING) assert.equal(one(unit, 'Service', key), value, key)
    assert.equal(unit.get('Service')!.has('MemoryDenyWriteExecute'), false, 'would break V8\'s JIT')
    const families = one(unit, 'Service', 'RestrictAddressFamilies').split(/\s+/).sort()
    if (u.tun) {
      assert.equal(one(unit, 'Service', 'CapabilityBoundingSet'), 'CAP_NET_ADMIN')
      assert.equal(one(unit, 'Service', 'AmbientCapabilities'), 'CAP_NET_ADMIN')
      assert.equal(one(unit, 'Service', 'DeviceAllow'), '/dev/net/tun rw')
      assert.equal(unit.get('Service')!.has('PrivateDevices'), false, 'PrivateDevices would hide /dev/net/tun')
      assert.deepEqual(families, ['AF_INET', 'AF_INET6', 'AF_NETLINK', 'AF_UNIX'])
    } else {
      assert.equal(one(unit, 'Service', 'CapabilityBoundingSet'), '')
      assert.equal(one(unit, 'Service', 'AmbientCapabilities'), '')
      assert.equal(one(unit, 'Service', 'PrivateDevices'), 'yes')
      assert.deepEqual(families, ['AF_INET', 'AF_INET6', 'AF_UNIX'])
    }
  })

  test(`examples/${u.command}.toml is a valid --config for ${u.command}, with an owner-only key path`, () => {
    const file = join(unitDir, 'examples', `${u.command}.toml`)
    const flags = parseConfig(readFileSync(file, 'utf8'), u.command, file)
    assert.match(String(flags.key), /^@\/etc\/gst\/\w+\.key$/)
  })
}

test('gst.sysusers.conf creates the gst system user', () => {
  const lines = readFileSync(join(unitDir, 'gst.sysusers.conf'), 'utf8').split('\n').filter((l) => l !== '' && !l.startsWith('#'))
  assert.deepEqual(lines.map((l) => l.split(/\s+/).slice(0, 2)), [['u', 'gst']])
})

const analyze = spawnSync('systemd-analyze', ['--version'], { encoding: 'utf8' })
const hasAnalyze = analyze.status === 0
test('systemd-analyze verify: every unit, no warnings', { skip: hasAnalyze ? false : 'systemd-analyze not installed' }, () => {
  // verify resolves ExecStart's binary on this machine: point it at stand-ins (the units name the
  // binary without a directory, which systemd finds in /usr/local/bin or /usr/bin).
  const dir = mkdtempSync(join(tmpdir(), 'gst-units-'))
  try {
    const bin = join(dir, 'bin')
    mkdirSync(bin)
    for (const name of ['gst-server', 'gst-client', 'ttt']) {
      writeFileSync(join(bin, name), '#!/bin/sh\n')
      chmodSync(join(bin, name), 0o755)
    }
    const copies = units.map((u) => {
      const text = readFileSync(join(unitDir, u.file), 'utf8').replace(/^ExecStart=(\S+)/m, (_, exe: string) => `ExecStart=${join(bin, exe)}`)
      const copy = join(dir, u.file)
      writeFileSync(copy, text)
      return copy
    })
    assert.ok(copies.every((c) => existsSync(c)))
    const r = spawnSync('systemd-analyze', ['verify', ...copies], { encoding: 'utf8', env: { ...process.env, SYSTEMD_LOG_COLOR: '0' } })
    assert.equal(r.status, 0, r.stderr)
    assert.equal(r.stderr.trim(), '', 'no warnings (an unknown or misspelt key is only a warning)')
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
})
