// Enforces the import boundaries of DESIGN.md section 2 on the source tree itself.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { readdirSync, readFileSync, existsSync } from 'node:fs'
import { join, dirname, relative, resolve, sep } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = resolve(dirname(fileURLToPath(import.meta.url)), '../../..')

/** Which top-level areas of ours each area may import (besides itself and node/npm packages). */
const allowed: Record<string, string[]> = {
  // The addon's AEAD binding is a leaf (it imports nothing of ours): crypto may use it.
  'src/crypto': ['src/errors.ts', 'src/clock.ts', 'src/native/aead.ts', 'src/native/addon.ts', 'src/native/native-error.ts'],
  'src/multipath': ['src/errors.ts', 'src/clock.ts'],
  'src/native': ['src/errors.ts'],
  'src/pipe': ['src/crypto', 'src/multipath', 'src/native', 'src/errors.ts', 'src/clock.ts', 'src/log.ts'],
  'src/vpn': ['src/crypto', 'src/multipath', 'src/native', 'src/errors.ts', 'src/clock.ts', 'src/log.ts'],
  'src/control': ['src/errors.ts', 'src/clock.ts', 'src/log.ts'],
}
/** Process-global I/O that only cmd/ may touch. */
const processGlobals = /\bprocess\.(argv|env|exit|exitCode|stdout|stdin)\b/

function* sourceFiles (dir: string): Generator<string> {
  if (!existsSync(dir)) return
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) yield * sourceFiles(path)
    else if (/\.(ts|js|mjs)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) yield path
  }
}

function areaOf (file: string): string | undefined {
  const rel = relative(root, file).split(sep).join('/')
  return Object.keys(allowed).find((area) => rel === area || rel.startsWith(area + '/') || rel === area.replace(/\.ts$/, ''))
}

function importsOf (source: string): string[] {
  const specs: string[] = []
  const re = /(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)|import\s+['"]([^'"]+)['"]/g
  for (const m of source.matchAll(re)) specs.push((m[1] ?? m[2] ?? m[3])!)
  return specs
}

test('each src area imports only what DESIGN.md section 2 allows', () => {
  const violations: string[] = []
  for (const file of sourceFiles(join(root, 'src'))) {
    const area = areaOf(file)
    if (!area) continue
    for (const spec of importsOf(readFileSync(file, 'utf8'))) {
      if (!spec.startsWith('.')) continue
      const target = relative(root, resolve(dirname(file), spec)).split(sep).join('/').replace(/\.js$/, '.ts')
      if (target.startsWith(area + '/') || target === area) continue
      const ok = allowed[area]!.some((a) => target === a || target.startsWith(a + '/'))
      if (!ok) violations.push(`${relative(root, file)} imports ${spec} (${area} may import only ${allowed[area]!.join(', ')})`)
    }
  }
  assert.deepEqual(violations, [])
})

test('only cmd/ touches argv, env, exit codes and stdio', () => {
  const violations: string[] = []
  for (const file of sourceFiles(join(root, 'src'))) {
    readFileSync(file, 'utf8').split('\n').forEach((line, i) => {
      if (processGlobals.test(line) && !line.trimStart().startsWith('//')) violations.push(`${relative(root, file)}:${i + 1}: ${line.trim()}`)
    })
  }
  assert.deepEqual(violations, [])
})

test('the boundary checker itself catches a violation', () => {
  assert.deepEqual(importsOf("import { x } from '../vpn/udp.js'\nimport('../pipe/a.js')"), ['../vpn/udp.js', '../pipe/a.js'])
  assert.equal(processGlobals.test('const k = process.env.KEY'), true)
})
