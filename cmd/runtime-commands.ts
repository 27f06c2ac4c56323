/**
 * The control socket's `set` and `path` commands for each kind of instance (see
 * src/control/runtime.ts for the requests). Each answers with { applied: ONE LINE }.
 */
import type { ControlHandler } from '../src/control/control-server.js'
import { badArgument, parsePathRef, readPathArgs, readSetArgs, type PathChange, type RuntimeScheduler } from '../src/control/runtime.js'
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'

export type RuntimeCommands = Record<string, ControlHandler>

function pathChangeOf (args: PathChange): PathChange {
  const { down, preference, rateBitsPerSec, weight } = args
  return {
    ...(down !== undefined ? { down } : {}),
    ...(preference !== undefined ? { preference } : {}),
    ...(rateBitsPerSec !== undefined ? { rateBitsPerSec } : {}),
    ...(weight !== undefined ? { weight } : {}),
  }
}

function applied (log: Logger, line: string): { applied: string } {
  log.info(`runtime change: ${line}`)
  return { applied: line }
}

/** UsageErrors from the instance's own checks become bad-argument answers. */
function asBadArgument<T> (fn: () => T): T {
  try {
    return fn()
  } catch (err) {
    if (err instanceof UsageError) badArgument(err.message)
    throw err
  }
}

export interface PipeClientControl {
  setPath: (pathId: number, change: PathChange) => string
  setScheduler: (kind: RuntimeScheduler) => void
  setRekeyInterval: (ms: number) => void
}

/** gst-client: its one session's paths (`N`, or `SESSION/N` as gst show names it) and settings. */
export function pipeClientCommands (client: PipeClientControl, log: Logger): RuntimeCommands {
  return {
    set: (request) => setVpn(readSetArgs(request), client, log),
    path: (request) => {
      const args = readPathArgs(request)
      const ref = parsePathRef(args.path)
      return applied(log, asBadArgument(() => client.setPath(ref.id, pathChangeOf(args))))
    },
  }
}

/** gst-server: clients choose their paths and start rotations; the scheduler is its own. */
export function pipeServerCommands (server: { setScheduler: (kind: RuntimeScheduler) => void }, log: Logger): RuntimeCommands {
  return {
    set: (request) => {
      const args = readSetArgs(request)
      if (args.rekeySeconds !== undefined) badArgument('rekey: key rotations are started by the client: set rekey on the gst-client instance')
      return setVpn(args, { setScheduler: (k) => server.setScheduler(k), setRekeyInterval: () => {} }, log)
    },
    path: (request) => {
      readPathArgs(request)
      badArgument('paths belong to the client: change them on the gst-client instance (gst path CLIENT-NAME N set ...)')
    },
  }
}

export interface VpnClientControl {
  setPath: (pathId: number, change: PathChange) => string
  setScheduler: (kind: RuntimeScheduler) => void
  setRekeyInterval: (ms: number) => void
  peerSnapshot: () => { id: string }
}

/** ttt client: one session; a path is `N` or `SESSION/N` with the current session's id. */
export function vpnClientCommands (client: VpnClientControl, log: Logger): RuntimeCommands {
  return {
    set: (request) => setVpn(readSetArgs(request), client, log),
    path: (request) => {
      const args = readPathArgs(request)
      const ref = parsePathRef(args.path)
      const current = client.peerSnapshot().id
      if (ref.session !== undefined && ref.session !== current) badArgument(`no session ${ref.session} (the current session is ${current}; see gst show)`)
      return applied(log, asBadArgument(() => client.setPath(ref.id, pathChangeOf(args))))
    },
  }
}

export interface VpnServerControl {
  setPath: (sessionId: string | undefined, pathId: number, change: PathChange) => string
  setScheduler: (kind: RuntimeScheduler) => void
}

/** ttt server: a path is `SESSION/N` (or `N` with one client); rekey is the clients' to set. */
export function vpnServerCommands (server: VpnServerControl, log: Logger): RuntimeCommands {
  return {
    set: (request) => {
      const args = readSetArgs(request)
      if (args.rekeySeconds !== undefined) badArgument('rekey: key rotations are started by the client: set rekey on the ttt client instance')
      return setVpn(args, { setScheduler: (k) => server.setScheduler(k), setRekeyInterval: () => {} }, log)
    },
    path: (request) => {
      const args = readPathArgs(request)
      const ref = parsePathRef(args.path)
      return applied(log, asBadArgument(() => server.setPath(ref.session, ref.id, pathChangeOf(args))))
    },
  }
}

function setVpn (args: ReturnType<typeof readSetArgs>, target: Pick<VpnClientControl, 'setScheduler' | 'setRekeyInterval'>, log: Logger): { applied: string } {
  const parts: string[] = []
  // Check everything before changing anything.
  if (args.rekeySeconds !== undefined) asBadArgument(() => target.setRekeyInterval(args.rekeySeconds! * 1000))
  if (args.scheduler !== undefined) target.setScheduler(args.scheduler)
  if (args.scheduler !== undefined) parts.push(`scheduler=${args.scheduler}`)
  if (args.rekeySeconds !== undefined) parts.push(`rekey=${args.rekeySeconds} s`)
  return applied(log, parts.join(' '))
}
