/**
 * `--metrics`, `--on-event` and `--config` for the long-running commands (gst-server, gst-client,
 * ttt server, ttt client): their help lines, and starting metrics and hooks from the same status
 * provider the control socket uses.
 */
import type { CAC } from 'cac'
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'
import type { StatusReport } from '../src/control/status.js'
import { parseHostPort } from '../src/pipe/address.js'
import { parseSeconds } from './pipe-options.js'
import { configHelp } from './config-file.js'

export interface OperationsFlags {
  metrics?: unknown
  onEvent?: unknown
  onEventTimeout?: unknown
  config?: unknown
}

export const DEFAULT_HOOK_TIMEOUT_S = 10

export const operationsHelp = {
  metrics: '[host:port] serve Prometheus metrics at http://HOST:PORT/metrics, e.g. 127.0.0.1:9370 (default: off)',
  onEvent: '[file] run this executable on session-up/down, path-up/down, rekey-failure, handshake-failure; details in GST_* environment variables (default: none)',
  onEventTimeout: `[number] kill an --on-event script still running after SECONDS (default: ${DEFAULT_HOOK_TIMEOUT_S})`,
  config: configHelp,
} as const

/** Adds --metrics, --on-event, --on-event-timeout and --config to a command. */
export function addOperationsOptions (command: ReturnType<CAC['command']>): void {
  command
    .option('--metrics <host:port>', operationsHelp.metrics)
    .option('--on-event <script>', operationsHelp.onEvent)
    .option('--on-event-timeout <seconds>', operationsHelp.onEventTimeout)
    .option('--config <file>', operationsHelp.config)
}

/** Checks --metrics, --on-event and --on-event-timeout before anything starts. */
export function parseOperationsFlags (flags: OperationsFlags): { metrics?: { host: string, port: number }, onEvent?: string, hookTimeoutMs: number } {
  const out: ReturnType<typeof parseOperationsFlags> = { hookTimeoutMs: DEFAULT_HOOK_TIMEOUT_S * 1000 }
  if (flags.metrics !== undefined) {
    if (typeof flags.metrics !== 'string' || flags.metrics === '') throw new UsageError('--metrics takes one HOST:PORT (e.g. 127.0.0.1:9370)')
    out.metrics = parseHostPort(flags.metrics, '--metrics', '127.0.0.1')
  }
  if (flags.onEvent !== undefined) {
    if (typeof flags.onEvent !== 'string' || flags.onEvent === '') throw new UsageError('--on-event takes the path of one executable')
    out.onEvent = flags.onEvent
  }
  if (flags.onEventTimeout !== undefined) out.hookTimeoutMs = parseSeconds(flags.onEventTimeout, '--on-event-timeout') * 1000
  return out
}

/** A script given with a slash must exist and be executable now (one found on PATH is tried per event). */
async function assertExecutable (script: string): Promise<void> {
  if (!script.includes('/')) return
  const { access, constants } = await import('node:fs/promises')
  try {
    await access(script, constants.X_OK)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    throw new UsageError(`--on-event ${script}: ${code === 'ENOENT' ? 'No such file or directory' : code === 'EACCES' ? 'not executable (Permission denied)' : (err as Error).message}`)
  }
}

export interface Operations {
  close(): Promise<void>
}

/**
 * Starts the metrics server and the hook watcher (whichever were asked for) on `collect`. A
 * metrics address that cannot be bound fails the start (the caller closes what it opened).
 */
export async function startOperations (flags: OperationsFlags, collect: () => StatusReport, log: Logger): Promise<Operations> {
  const parsed = parseOperationsFlags(flags)
  const closers: Array<() => Promise<void> | void> = []
  if (parsed.metrics !== undefined) {
    const { StatusMetrics, MetricsServer } = await import('../src/control/metrics.js')
    const server = new MetricsServer({ ...parsed.metrics, metrics: new StatusMetrics({ collect }), log })
    let bound: { address: string, port: number }
    try {
      bound = await server.start()
    } catch (err) {
      const e = err as NodeJS.ErrnoException
      throw new UsageError(`--metrics ${String(flags.metrics)}: couldn't listen: ${e.code ?? e.message}`)
    }
    const host = bound.address.includes(':') ? `[${bound.address}]` : bound.address
    log.info(`metrics on http://${host}:${bound.port}/metrics`)
    closers.push(() => server.close())
  }
  if (parsed.onEvent !== undefined) {
    await assertExecutable(parsed.onEvent)
    const { HookRunner, HookWatcher } = await import('../src/control/hooks.js')
    const runner = new HookRunner({ script: parsed.onEvent, baseEnv: process.env, timeoutMs: parsed.hookTimeoutMs, log })
    const watcher = new HookWatcher({ collect, runner, log })
    watcher.start()
    log.info(`hooks: running ${parsed.onEvent} on events`)
    closers.push(() => watcher.stop())
  }
  return {
    async close () {
      for (const close of closers) await close()
    },
  }
}
