/**
 * `gst show [NAME] [--json] [--watch]`: the status of one running instance, or of every instance
 * with a socket in the control directory. Reads each instance's control socket; renders with
 * src/control/show-render.ts. `--watch` redraws in place (ANSI clear + home) every interval.
 */
import { lstatSync, readdirSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { assertInstanceName, instanceNameOf, socketPath } from '../src/control/paths.js'
import { requestControl } from '../src/control/control-client.js'
import { assertStatusReport, type StatusReport } from '../src/control/status.js'
import { renderJson, renderStatuses, renderWatch } from '../src/control/show-render.js'
import { controlDirFromFlags, type ControlFlags } from './control-options.js'
import { parseSeconds } from './pipe-options.js'

export interface ShowFlags extends ControlFlags {
  json?: unknown
  watch?: unknown
  interval?: unknown
}

/** No instance to show: printed as one line, exit status 1 (like a connect error). */
class NoInstanceError extends Error {
  override name = 'NoInstanceError'
  readonly syscall = 'connect'
  constructor (message: string, readonly code = 'ENOENT') {
    super(message)
  }
}

/** Seconds of reports kept per instance for --watch (the sparkline spans 60). */
const WATCH_HISTORY_S = 70
const CLEAR_HOME = '\x1b[H\x1b[2J'

async function fetchStatus (path: string, name: string): Promise<StatusReport> {
  const result = await requestControl(path, { cmd: 'status' }, { name })
  try {
    assertStatusReport(result)
  } catch (err) {
    throw new NoInstanceError(`gst instance ${name}: ${(err as Error).message}`, 'EPROTO')
  }
  return result
}

/** Instance names with a socket in `dir` (sorted); an absent directory has none. */
function listInstances (dir: string): string[] {
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return []
  }
  return entries.map((file) => ({ file, name: instanceNameOf(file) }))
    .filter((e): e is { file: string, name: string } => {
      if (e.name === undefined) return false
      try { return lstatSync(join(dir, e.file)).isSocket() } catch { return false }
    })
    .map((e) => e.name)
    .sort()
}

/**
 * Reports of every live instance in `dir`. Sockets nobody listens on (left by a killed instance)
 * are removed (a live instance binds and listens in one step, so a refused socket is dead); other
 * failures are returned as messages.
 */
async function fetchAll (dir: string): Promise<{ reports: StatusReport[], problems: string[] }> {
  const names = listInstances(dir)
  const results = await Promise.allSettled(names.map(async (name) => await fetchStatus(socketPath(dir, name), name)))
  const reports: StatusReport[] = []
  const problems: string[] = []
  for (const r of results) {
    if (r.status === 'fulfilled') reports.push(r.value)
    else if ((r.reason as { code?: string }).code === 'ECONNREFUSED') removeStale((r.reason as { path?: string }).path)
    else problems.push((r.reason as Error).message)
  }
  return { reports, problems }
}

function removeStale (path: string | undefined): void {
  if (path === undefined) return
  try { unlinkSync(path) } catch {}
}

function noneFound (dir: string): NoInstanceError {
  return new NoInstanceError(`no gst instance running (no live control socket in ${dir})`)
}

export async function show (name: string | undefined, flags: ShowFlags): Promise<void> {
  const dir = controlDirFromFlags(flags)
  if (name !== undefined) assertInstanceName(String(name), 'NAME')
  const json = flags.json === true
  if (flags.watch === true) {
    await watch(name === undefined ? undefined : String(name), dir, json, flags.interval === undefined ? 1 : parseSeconds(flags.interval, '--interval'))
    return
  }
  if (name !== undefined) {
    const report = await fetchStatus(socketPath(dir, String(name)), String(name))
    process.stdout.write(json ? renderJson(report) : renderStatuses([report]))
    return
  }
  const { reports, problems } = await fetchAll(dir)
  for (const p of problems) process.stderr.write(`gst show: ${p}\n`)
  if (reports.length === 0) throw noneFound(dir)
  process.stdout.write(json ? renderJson(reports) : renderStatuses(reports))
}

async function watch (name: string | undefined, dir: string, json: boolean, intervalS: number): Promise<void> {
  const histories = new Map<string, StatusReport[]>()
  let stop = false
  let wake: (() => void) | undefined
  const onSignal = (): void => { stop = true; wake?.() }
  process.once('SIGINT', onSignal)
  process.once('SIGTERM', onSignal)
  try {
    while (!stop) {
      let reports: StatusReport[] = []
      const problems: string[] = []
      try {
        if (name !== undefined) reports = [await fetchStatus(socketPath(dir, name), name)]
        else ({ reports } = await fetchAll(dir))
        if (reports.length === 0) problems.push(noneFound(dir).message)
      } catch (err) {
        problems.push((err as Error).message)
      }
      const nowMs = Date.now()
      for (const r of reports) {
        const history = histories.get(r.instance.name) ?? []
        // A restarted instance (new pid) starts a new history.
        if (history.length > 0 && history[history.length - 1]!.instance.pid !== r.instance.pid) history.length = 0
        history.push(r)
        while (history.length > 0 && Date.parse(history[0]!.at) < nowMs - WATCH_HISTORY_S * 1000) history.shift()
        histories.set(r.instance.name, history)
      }
      for (const key of histories.keys()) if (!reports.some((r) => r.instance.name === key)) histories.delete(key)
      if (json) {
        for (const r of reports) process.stdout.write(JSON.stringify(r) + '\n')
        for (const p of problems) process.stderr.write(`gst show: ${p}\n`)
      } else {
        const screens = reports.map((r) => renderWatch(histories.get(r.instance.name)!))
        const footer = `every ${intervalS} s · ${new Date(nowMs).toLocaleTimeString()} · Ctrl-C to quit`
        process.stdout.write(CLEAR_HOME + [...screens, ...problems.map((p) => `gst show: ${p}\n`)].join('\n') + '\n' + footer + '\n')
      }
      if (stop) break
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, intervalS * 1000)
        wake = () => { clearTimeout(timer); resolve() }
      })
    }
  } finally {
    process.off('SIGINT', onSignal)
    process.off('SIGTERM', onSignal)
  }
}
