// One control directory per test process, so no gst/ttt binary a test starts puts its control
// socket in /run/gst (shared with real instances on the machine): set as $GST_CONTROL_DIR, which
// every gst command reads when --control-dir is not given, and removed when the process exits.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

let dir: string | undefined

/**
 * Makes (once per process) a fresh directory, sets $GST_CONTROL_DIR to it for every child that
 * inherits this process's environment, and removes it (with whatever sockets were left in it by
 * killed instances) on exit. A $GST_CONTROL_DIR set by the caller is kept and never removed.
 */
export function useTestControlDir (): string {
  if (dir !== undefined) return dir
  const given = process.env.GST_CONTROL_DIR
  if (given !== undefined && given !== '') return (dir = given)
  const made = mkdtempSync(join(tmpdir(), 'gst-test-ctl-'))
  dir = made
  process.env.GST_CONTROL_DIR = made
  process.once('exit', () => rmSync(made, { recursive: true, force: true }))
  return made
}

/** `env` with GST_CONTROL_DIR added when it does not name one (for spawn options with their own env). */
export function withTestControlDir (env: NodeJS.ProcessEnv | undefined): NodeJS.ProcessEnv {
  const base = env ?? process.env
  if (base.GST_CONTROL_DIR !== undefined && base.GST_CONTROL_DIR !== '') return base
  return { ...base, GST_CONTROL_DIR: useTestControlDir() }
}
