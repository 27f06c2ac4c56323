/**
 * `--name` and `--control-dir` for long-running commands, and starting their control socket.
 *
 * Default name: `server-PORT` / `client-PORT`, PORT being the LISTEN port (two instances cannot
 * listen on one port, so defaults rarely collide; with port 0, `server-pidPID`). With an explicit
 * `--name`, a name in use or a control socket that cannot be created stops the start; with the
 * default name it is a warning and the instance runs without a control socket.
 */
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'
import { assertInstanceName, defaultControlDir } from '../src/control/paths.js'
import type { ControlHandler, ControlServer } from '../src/control/control-server.js'
import type { StatusReport } from '../src/control/status.js'

export const GST_VERSION = '0.1.0'

export interface ControlFlags {
  name?: unknown
  controlDir?: unknown
}

/**
 * The control directory: --control-dir, else $GST_CONTROL_DIR (so one shell, a test run or a
 * service manager can point every gst command at one place), else /run/gst (root),
 * $XDG_RUNTIME_DIR/gst, /tmp/gst-UID.
 */
export function controlDirFromFlags (flags: ControlFlags): string {
  if (flags.controlDir !== undefined) {
    const dir = flags.controlDir === true ? '' : String(flags.controlDir)
    if (dir === '') throw new UsageError('--control-dir takes a directory')
    return dir
  }
  const fromEnv = process.env.GST_CONTROL_DIR
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv
  return defaultControlDir({ uid: process.getuid?.(), runtimeDir: process.env.XDG_RUNTIME_DIR })
}

export const controlDirHelp = '[dir] directory of control sockets (default: $GST_CONTROL_DIR, else /run/gst as root, else $XDG_RUNTIME_DIR/gst or /tmp/gst-UID)'

/** The instance name from --name, or the default for `role` listening on `listenPort`. */
export function instanceName (flags: ControlFlags, role: string, listenPort: number, pid: number): { name: string, explicit: boolean } {
  if (flags.name !== undefined) {
    const name = flags.name === true ? '' : String(flags.name)
    assertInstanceName(name)
    return { name, explicit: true }
  }
  return { name: listenPort === 0 ? `${role}-pid${pid}` : `${role}-${listenPort}`, explicit: false }
}

/**
 * Starts the control socket (before the instance binds its ports, so a taken name fails fast).
 * Returns undefined when a default-named socket could not be made (logged). Removes the socket on
 * process exit even when shutdown is cut short. `commands`: further commands (`set`, `path`). Logs nothing on success: the caller announces the
 * socket once the instance is up (so a start that fails stays one line).
 */
export async function startControl (flags: ControlFlags, role: string, listenPort: number, status: () => StatusReport, log: Logger,
  commands: Record<string, ControlHandler> = {}): Promise<ControlServer | undefined> {
  const { name, explicit } = instanceName(flags, role, listenPort, process.pid)
  const dir = controlDirFromFlags(flags)
  const { ControlServer } = await import('../src/control/control-server.js')
  let control: ControlServer
  try {
    control = new ControlServer({ name, dir, status, log, commands })
    await control.start()
  } catch (err) {
    if (explicit) throw err
    log.warn(`control socket: ${(err as Error).message}; \`gst show\` will not see this instance (set --name)`)
    return undefined
  }
  process.once('exit', () => control.removeSocketSync())
  return control
}

/** The line announcing the control socket, logged once the instance listens. */
export function announceControl (control: ControlServer | undefined, log: Logger): void {
  if (control !== undefined) log.info(`control socket ${control.path} (gst show ${control.name})`)
}
