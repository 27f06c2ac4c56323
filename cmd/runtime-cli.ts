/**
 * `gst set NAME SETTING...` and `gst path NAME PATH_ID set CHANGE...` (also `ttt set|path`):
 * parse the words (pure, unit-tested), send the request over the instance's control socket, print
 * one line. A bad argument or an unknown instance is one line on stderr and exit status 2.
 */
import { UsageError } from '../src/errors.js'
import { assertInstanceName, socketPath } from '../src/control/paths.js'
import { ControlResponseError, ControlUnavailableError, requestControl } from '../src/control/control-client.js'
import type { PathArgs, SetArgs } from '../src/control/runtime.js'
import { controlDirFromFlags, type ControlFlags } from './control-options.js'
import { parseSeconds } from './pipe-options.js'
import { parseRate, parseScheduler } from './ttt-options.js'

export const SET_USAGE = 'set NAME scheduler=auto|weighted|redundant rekey=SECONDS'
export const PATH_USAGE = 'path NAME PATH_ID set up|down|backup|primary|rate=20mbit|weight=3'

/** `scheduler=weighted`, `rekey=30` (one or more). */
export function parseSetWords (words: readonly string[]): SetArgs {
  if (words.length === 0) throw new UsageError(`nothing to set: usage: ${SET_USAGE}`)
  const out: SetArgs = {}
  for (const word of words) {
    const eq = word.indexOf('=')
    const key = eq < 0 ? word : word.slice(0, eq)
    const value = eq < 0 ? undefined : word.slice(eq + 1)
    if (value === undefined || value === '') throw new UsageError(`"${word}": expected KEY=VALUE (scheduler=... or rekey=...)`)
    if (key === 'scheduler') out.scheduler = parseScheduler(value)
    else if (key === 'rekey') out.rekeySeconds = parseSeconds(value, 'rekey')
    else throw new UsageError(`unknown setting "${key}" (use scheduler=auto|weighted|redundant or rekey=SECONDS)`)
  }
  return out
}

/** `PATH_ID set down rate=20mbit ...` → the request's arguments. */
export function parsePathWords (pathId: string, words: readonly string[]): PathArgs {
  const [verb, ...changes] = words
  if (verb !== 'set') throw new UsageError(`expected "set" after the path id: usage: ${PATH_USAGE}`)
  if (!/^(?:[^/\s]+\/)?\d{1,3}$/.test(pathId)) throw new UsageError(`"${pathId}" is not a path id such as 0 or SESSION/0 (see gst show)`)
  if (changes.length === 0) throw new UsageError(`nothing to change: usage: ${PATH_USAGE}`)
  const out: PathArgs = { path: pathId }
  for (const word of changes) {
    const eq = word.indexOf('=')
    if (eq < 0) {
      if (word === 'up' || word === 'down') out.down = word === 'down'
      else if (word === 'backup' || word === 'primary') out.preference = word
      else throw new UsageError(`unknown path change "${word}" (use up, down, backup, primary, rate=20mbit or weight=3)`)
      continue
    }
    const key = word.slice(0, eq)
    const value = word.slice(eq + 1)
    if (key === 'rate') out.rateBitsPerSec = value === '0' || value === 'unlimited' ? 0 : parseRate(value, 'rate')
    else if (key === 'weight') {
      const weight = Number(value)
      if (value === '' || !Number.isFinite(weight) || !(weight > 0)) throw new UsageError(`weight must be a number above 0 (got "${value}")`)
      out.weight = weight
    } else throw new UsageError(`unknown path change "${word}" (use up, down, backup, primary, rate=20mbit or weight=3)`)
  }
  return out
}

/** Sends `cmd` with `args` to instance `name`; a refusal or an unknown name becomes a UsageError. */
async function send (name: string | undefined, cmd: string, args: SetArgs | PathArgs, flags: ControlFlags): Promise<string> {
  if (name === undefined || name === '') throw new UsageError(`missing instance name (see gst show)`)
  assertInstanceName(name)
  const path = socketPath(controlDirFromFlags(flags), name)
  let result: unknown
  try {
    result = await requestControl(path, { cmd, args }, { name })
  } catch (err) {
    if (err instanceof ControlResponseError && (err.code === 'bad-argument' || err.code === 'unknown-command')) throw new UsageError(err.message)
    if (err instanceof ControlUnavailableError && (err.code === 'ENOENT' || err.code === 'ECONNREFUSED')) throw new UsageError(err.message)
    throw err
  }
  const applied = (result as { applied?: unknown } | null)?.applied
  return `${name}: ${typeof applied === 'string' ? applied : 'applied'}`
}

export async function runSet (name: string | undefined, words: readonly string[], flags: ControlFlags): Promise<void> {
  const args = parseSetWords(words)
  process.stdout.write(await send(name, 'set', args, flags) + '\n')
}

export async function runPath (name: string | undefined, pathId: string | undefined, words: readonly string[], flags: ControlFlags): Promise<void> {
  if (pathId === undefined) throw new UsageError(`missing path id: usage: ${PATH_USAGE}`)
  const args = parsePathWords(pathId, words)
  process.stdout.write(await send(name, 'path', args, flags) + '\n')
}
