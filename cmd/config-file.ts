/**
 * `--config FILE`: every option of gst-server, gst-client, ttt server and ttt client from a TOML
 * file. Keys are the long option names (`rekey = 60`, `log-level = "debug"`,
 * `path = ["10.0.0.2", "10.0.1.2,backup"]`) and the positional arguments by name (`listen`,
 * `target`, `server`, `key`). Flags on the command line win over the file. Unknown keys and values
 * of the wrong type are errors naming the key and what it takes.
 *
 * Pure (text in, flags out) apart from readConfigFile; unit-tested in test/unit/cmd/config-file.test.ts.
 */
import { readFile } from 'node:fs/promises'
import { parse, TomlError } from 'smol-toml'
import { UsageError } from '../src/errors.js'

/**
 * number: a TOML number (seconds, counts, bytes); size: a number of bytes or a string such as
 * "256k"; string; list: a string or an array of strings (repeatable options); boolean: a switch
 * such as `--pace` (`pace = true`; false leaves it off); switch: a flag that may also take a value
 * (`equal-delay = true` or `"all"`).
 */
export type ConfigKind = 'number' | 'size' | 'string' | 'list' | 'boolean' | 'switch'

/** Valid keys of one command and the kind of value each takes. */
export type ConfigSpec = Readonly<Record<string, ConfigKind>>

const operations: ConfigSpec = {
  'log-level': 'string',
  'log-format': 'string',
  name: 'string',
  'control-dir': 'string',
  user: 'string',
  group: 'string',
  metrics: 'string',
  'on-event': 'string',
  'on-event-timeout': 'number',
}

const pipeCommon: ConfigSpec = {
  rekey: 'number',
  keepalive: 'number',
  window: 'size',
  'max-streams': 'number',
  'session-buffer': 'size',
  'handshake-timeout': 'number',
  scheduler: 'string',
  ...operations,
}

const tttCommon: ConfigSpec = {
  key: 'string',
  address: 'list',
  route: 'list',
  tun: 'string',
  mtu: 'number',
  scheduler: 'string',
  rekey: 'number',
  pace: 'boolean',
  'equal-delay': 'switch',
  ...operations,
}

export const CONFIG_SPECS = {
  'gst-server': { listen: 'string', target: 'string', key: 'string', 'connect-timeout': 'number', 'max-sessions': 'number', 'handshake-rate': 'number', ...pipeCommon },
  'gst-client': { listen: 'string', server: 'string', key: 'string', 'reconnect-max': 'number', path: 'list', 'path-timeout': 'number', ...pipeCommon },
  'ttt-server': { listen: 'string', peer: 'list', ...tttCommon },
  'ttt-client': { server: 'string', path: 'list', ...tttCommon },
} as const satisfies Record<string, ConfigSpec>

export type ConfigCommand = keyof typeof CONFIG_SPECS

const expected: Record<ConfigKind, string> = {
  number: 'a number (e.g. 60)',
  size: 'a number of bytes or a size string (e.g. 262144 or "256k")',
  string: 'a string (in double quotes)',
  list: 'a string or an array of strings (e.g. ["a", "b"])',
  boolean: 'true or false',
  switch: 'true, false or a string (e.g. "all")',
}

/** "rekey-interval" → "rekeyInterval", the key cac gives the flag. */
export function flagKey (name: string): string {
  return name.replace(/-([a-z])/g, (_m, c: string) => c.toUpperCase())
}

function describe (value: unknown): string {
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Date) return 'a date'
  if (value === null) return 'nothing'
  if (typeof value === 'object') return 'a table'
  if (typeof value === 'string') return `the string ${JSON.stringify(value)}`
  return `${typeof value === 'number' || typeof value === 'bigint' ? 'the number' : `the ${typeof value}`} ${String(value)}`
}

function checkValue (kind: ConfigKind, value: unknown): unknown {
  switch (kind) {
    case 'number':
      if (typeof value === 'bigint') return Number(value)
      return typeof value === 'number' && Number.isFinite(value) ? value : undefined
    case 'size':
      if (typeof value === 'bigint') return Number(value)
      return (typeof value === 'number' && Number.isFinite(value)) || typeof value === 'string' ? value : undefined
    case 'string':
      return typeof value === 'string' ? value : undefined
    case 'list':
      if (typeof value === 'string') return [value]
      return Array.isArray(value) && value.every((v) => typeof v === 'string') ? [...value] : undefined
    case 'boolean':
      return typeof value === 'boolean' ? value : undefined
    case 'switch':
      return typeof value === 'boolean' || typeof value === 'string' ? value : undefined
  }
}

/**
 * Parses and validates a config file's text for `command`. Returns the values keyed as cac keys
 * its flags (camelCase: `log-level` → `logLevel`); lists are arrays. `source` names the file in
 * messages.
 */
export function parseConfig (text: string, command: ConfigCommand, source: string): Record<string, unknown> {
  let doc: Record<string, unknown>
  try {
    doc = parse(text) as Record<string, unknown>
  } catch (err) {
    if (err instanceof TomlError) {
      const what = err.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')
      throw new UsageError(`config ${source}: line ${err.line}, column ${err.column}: ${what}`)
    }
    throw err
  }
  const spec: ConfigSpec = CONFIG_SPECS[command]
  const valid = Object.keys(spec)
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(doc)) {
    const kind = spec[key]
    if (kind === undefined) {
      const hint = key.includes('_') && spec[key.replace(/_/g, '-')] !== undefined ? ` (did you mean "${key.replace(/_/g, '-')}"?)` : ''
      throw new UsageError(`config ${source}: unknown key "${key}"${hint} for ${command}; valid keys: ${valid.join(', ')}`)
    }
    const checked = checkValue(kind, value)
    if (checked === undefined) throw new UsageError(`config ${source}: "${key}" takes ${expected[kind]}, not ${describe(value)}`)
    if (checked === false) continue // a switch left off, as when the flag is absent
    out[flagKey(key)] = checked
  }
  return out
}

/** Reads and parses FILE; a missing or unreadable file is one line naming it and the cause. */
export async function readConfigFile (file: string, command: ConfigCommand): Promise<Record<string, unknown>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (err) {
    const e = err as NodeJS.ErrnoException
    const cause = e.code === 'ENOENT' ? 'No such file or directory' : e.code === 'EACCES' ? 'Permission denied' : e.code === 'EISDIR' ? 'Is a directory' : e.message
    throw new UsageError(`couldn't read config ${file}: ${cause}`)
  }
  return parseConfig(text, command, file)
}

/**
 * The flags a command runs with: the file's values, overridden by every flag given on the command
 * line (a repeatable flag given on the command line replaces the file's whole list). cac's `--`
 * entry and `config` itself are dropped from the file side.
 */
export function mergeConfig<T extends object> (fromFile: Record<string, unknown>, flags: T): T {
  const merged: Record<string, unknown> = { ...fromFile }
  for (const [key, value] of Object.entries(flags)) if (value !== undefined) merged[key] = value
  return merged as T
}

/**
 * For a command's action: when `flags.config` is set, reads it and returns the merged flags and
 * positional values (a positional given on the command line wins). Without --config, returns the
 * inputs unchanged.
 */
export async function applyConfig<F extends { config?: unknown }> (command: ConfigCommand, flags: F, positional: Record<string, string | undefined> = {}): Promise<{ flags: F, positional: Record<string, string | undefined> }> {
  if (flags.config === undefined) return { flags, positional }
  if (typeof flags.config !== 'string' || flags.config === '') throw new UsageError('--config takes one FILE')
  const fromFile = await readConfigFile(flags.config, command)
  const outPositional: Record<string, string | undefined> = { ...positional }
  const outFile: Record<string, unknown> = { ...fromFile }
  for (const name of Object.keys(positional)) {
    const fileValue = fromFile[name]
    delete outFile[name]
    if ((positional[name] === undefined || positional[name] === '') && typeof fileValue === 'string') outPositional[name] = fileValue
  }
  return { flags: mergeConfig(outFile, flags), positional: outPositional }
}

/** Help line for --config, shared by the four commands. */
export const configHelp = '[file] TOML file of options: keys are the long option names (and listen/target/server/key); flags override it (default: none)'
