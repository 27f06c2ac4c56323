/**
 * Runtime changes over the control socket (`gst set`, `gst path`): the request arguments and their
 * checks, shared by every instance kind. Requests:
 *
 *   {"cmd":"set","args":{"scheduler":"weighted","rekeySeconds":30}}
 *   {"cmd":"path","args":{"path":"0","down":true,"preference":"backup","rateBitsPerSec":20000000,"weight":3}}
 *
 * `path` is a path id as `gst show` prints it: `N`, or `SESSION/N` (needed on a server with
 * several clients). Bad arguments throw ControlCommandError('bad-argument').
 */
import { ControlCommandError, type ControlRequest } from './protocol.js'

export type RuntimeScheduler = 'auto' | 'weighted' | 'redundant'

export interface SetArgs {
  scheduler?: RuntimeScheduler
  rekeySeconds?: number
}

export interface PathChange {
  /** true: administratively down (no traffic); false: back up. */
  down?: boolean
  preference?: 'primary' | 'backup'
  /** 0 removes the cap. */
  rateBitsPerSec?: number
  weight?: number
}

export interface PathArgs extends PathChange {
  path: string
}

export interface PathRef {
  session: string | undefined
  id: number
}

function bad (message: string): never {
  throw new ControlCommandError('bad-argument', message)
}

function argsOf (request: ControlRequest): Record<string, unknown> {
  const args = request.args
  if (args === null || typeof args !== 'object' || Array.isArray(args)) bad(`"${request.cmd}" needs an "args" object`)
  return args as Record<string, unknown>
}

function checkKeys (args: Record<string, unknown>, known: string[], cmd: string): void {
  for (const key of Object.keys(args)) if (!known.includes(key)) bad(`"${cmd}": unknown argument "${key}" (known: ${known.join(', ')})`)
}

/** The arguments of a `set` request (at least one setting). */
export function readSetArgs (request: ControlRequest): SetArgs {
  const args = argsOf(request)
  checkKeys(args, ['scheduler', 'rekeySeconds'], 'set')
  const out: SetArgs = {}
  if (args.scheduler !== undefined) {
    const s = args.scheduler
    if (s !== 'auto' && s !== 'weighted' && s !== 'redundant') bad(`scheduler must be auto, weighted or redundant (got ${JSON.stringify(s)})`)
    out.scheduler = s
  }
  if (args.rekeySeconds !== undefined) {
    const r = args.rekeySeconds
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0.1 || r > 86_400) bad(`rekey must be from 0.1 to 86400 seconds (got ${JSON.stringify(r)})`)
    out.rekeySeconds = r
  }
  if (Object.keys(out).length === 0) bad('"set" needs scheduler=... or rekey=...')
  return out
}

/** The arguments of a `path` request (a path and at least one change). */
export function readPathArgs (request: ControlRequest): PathArgs {
  const args = argsOf(request)
  checkKeys(args, ['path', 'down', 'preference', 'rateBitsPerSec', 'weight'], 'path')
  if (typeof args.path !== 'string' || args.path === '') bad('"path" needs a path id, e.g. "0" or "SESSION/0"')
  const out: PathArgs = { path: args.path }
  if (args.down !== undefined) {
    if (typeof args.down !== 'boolean') bad('down must be true or false')
    out.down = args.down
  }
  if (args.preference !== undefined) {
    if (args.preference !== 'primary' && args.preference !== 'backup') bad(`preference must be primary or backup (got ${JSON.stringify(args.preference)})`)
    out.preference = args.preference
  }
  if (args.rateBitsPerSec !== undefined) {
    const r = args.rateBitsPerSec
    if (typeof r !== 'number' || !Number.isFinite(r) || r < 0 || r > 1e12) bad(`rate must be from 0 to 1000gbit (got ${JSON.stringify(r)})`)
    out.rateBitsPerSec = r
  }
  if (args.weight !== undefined) {
    const w = args.weight
    if (typeof w !== 'number' || !Number.isFinite(w) || w <= 0) bad(`weight must be a number above 0 (got ${JSON.stringify(w)})`)
    out.weight = w
  }
  if (Object.keys(out).length === 1) bad('"path" needs a change: up, down, backup, primary, rate=... or weight=...')
  return out
}

/** `N` or `SESSION/N` as `gst show` prints path ids. */
export function parsePathRef (text: string): PathRef {
  const slash = text.lastIndexOf('/')
  const session = slash >= 0 ? text.slice(0, slash) : undefined
  const idText = slash >= 0 ? text.slice(slash + 1) : text
  if (!/^\d{1,3}$/.test(idText) || Number(idText) > 255 || session === '') bad(`"${text}" is not a path id such as 0 or SESSION/0 (see gst show)`)
  return { session, id: Number(idText) }
}

export { bad as badArgument }
