// The addon loader refuses an addon built before its C sources last changed (by file times).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { mkdtempSync, mkdirSync, rmSync, utimesSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sourceNewerThan } from '../../src/native/addon.js'

test('sourceNewerThan names a .c or .h source newer than the built addon, and nothing otherwise', (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gst-stale-'))
  t.after(() => rmSync(dir, { recursive: true, force: true }))
  const sources = join(dir, 'native')
  mkdirSync(sources)
  const built = join(dir, 'addon.node')
  writeFileSync(built, '')
  for (const name of ['tun.c', 'io.h', 'README.md']) writeFileSync(join(sources, name), '')
  const at = (path: string, seconds: number): void => utimesSync(path, seconds, seconds)
  at(built, 2000)
  at(join(sources, 'tun.c'), 1000)
  at(join(sources, 'io.h'), 1000)
  at(join(sources, 'README.md'), 3000)
  assert.equal(sourceNewerThan(built, sources), undefined, 'only C sources count')
  at(join(sources, 'io.h'), 3000)
  assert.equal(sourceNewerThan(built, sources), 'native/io.h')
  assert.equal(sourceNewerThan(built, join(dir, 'absent')), undefined, 'an install without sources is not checked')
})
