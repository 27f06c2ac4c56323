/**
 * `--on-event SCRIPT`: runs a user script when a session or path goes up or down, or a handshake
 * or key rotation fails.
 *
 * Events come from diffing consecutive StatusReports (diffReports, pure), so every mode gets them
 * without the tunnel code knowing about hooks. HookWatcher polls the report provider; HookRunner
 * spawns the script with the details in environment variables, never through a shell, with a
 * timeout, a bound on scripts running at once and a bounded queue (what overflows is dropped and
 * counted). Nothing here is awaited by the tunnel: a slow or failing script costs a log line.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { silentLogger, type Logger } from '../log.js'
import type { PathState, PathStatus, SessionStatus, StatusReport } from './status.js'

export type HookEventName = 'session-up' | 'session-down' | 'path-up' | 'path-down' | 'rekey-failure' | 'handshake-failure'

export const HOOK_EVENTS: readonly HookEventName[] = ['session-up', 'session-down', 'path-up', 'path-down', 'rekey-failure', 'handshake-failure']

export interface HookEvent {
  event: HookEventName
  /** Session id (absent for a handshake failure outside any session). */
  session?: string
  /** Path id within the session (path events). */
  path?: string
  /** The other side: the session's peer, or the failure's source address. */
  peer?: string
  local?: string
  remote?: string
  /** New state of the session or path ("gone" when it disappeared). */
  state?: string
  previousState?: string
  /** Human-readable cause, one line. */
  reason?: string
}

const usablePathStates: ReadonlySet<PathState> = new Set(['up', 'degraded', 'backup'])
const isPathUsable = (p: PathStatus | undefined): boolean => p !== undefined && usablePathStates.has(p.state)
const isSessionUp = (s: SessionStatus | undefined): boolean => s !== undefined && s.state === 'up'

/**
 * The events between two consecutive reports of one instance. Sessions and paths are matched by
 * id. Order: path-down before its session-down, session-up before its path-up, failures last.
 */
export function diffReports (prev: StatusReport, next: StatusReport): HookEvent[] {
  const events: HookEvent[] = []
  const prevSessions = new Map(prev.sessions.map((s) => [s.id, s]))
  const nextIds = new Set(next.sessions.map((s) => s.id))

  // Sessions that disappeared: their usable paths go down, then the session if it was up.
  for (const old of prev.sessions) {
    if (nextIds.has(old.id)) continue
    for (const p of old.paths ?? []) {
      if (isPathUsable(p)) events.push(pathEvent('path-down', old, p, 'gone', p.state, 'session ended'))
    }
    if (isSessionUp(old)) events.push({ ...sessionFields(old), event: 'session-down', state: 'gone', previousState: old.state, reason: 'session ended' })
  }

  for (const s of next.sessions) {
    const old = prevSessions.get(s.id)
    const wasUp = isSessionUp(old)
    const isUp = isSessionUp(s)
    const oldPaths = new Map((old?.paths ?? []).map((p) => [p.id, p]))
    const nextPathIds = new Set((s.paths ?? []).map((p) => p.id))
    const downs: HookEvent[] = []
    const ups: HookEvent[] = []
    for (const p of old?.paths ?? []) {
      if (!nextPathIds.has(p.id) && isPathUsable(p)) downs.push(pathEvent('path-down', s, p, 'gone', p.state, 'path removed'))
    }
    for (const p of s.paths ?? []) {
      const before = oldPaths.get(p.id)
      if (isPathUsable(before) && !isPathUsable(p)) downs.push(pathEvent('path-down', s, p, p.state, before?.state, `path ${p.state}`))
      else if (!isPathUsable(before) && isPathUsable(p)) ups.push(pathEvent('path-up', s, p, p.state, before?.state ?? 'new', `path ${p.state}`))
    }
    events.push(...downs)
    if (wasUp && !isUp) events.push({ ...sessionFields(s), event: 'session-down', state: s.state, previousState: 'up', reason: `session ${s.state}` })
    if (!wasUp && isUp) events.push({ ...sessionFields(s), event: 'session-up', state: 'up', previousState: old?.state ?? 'new', reason: 'session up' })
    events.push(...ups)
  }

  // Handshake failures (a failed key rotation counts as one): the counter moved.
  const before = prev.errors.handshake?.count ?? 0
  const after = next.errors.handshake
  if (after !== undefined && after.count > before) {
    const n = after.count - before
    const source = after.lastSource ?? undefined
    const victim = source === undefined ? undefined : prev.sessions.find((s) => isSessionUp(s) && s.peer === source)
    const reason = `${n} handshake failure${n === 1 ? '' : 's'}${source !== undefined ? `, last from ${source}` : ''}`
    if (victim !== undefined) events.push({ ...sessionFields(victim), event: 'rekey-failure', state: 'failed', reason })
    else events.push({ event: 'handshake-failure', ...(source !== undefined ? { peer: source } : {}), state: 'failed', reason })
  }
  return events
}

function sessionFields (s: SessionStatus): Pick<HookEvent, 'session' | 'peer'> {
  return { session: s.id, peer: s.peer }
}

function pathEvent (event: 'path-up' | 'path-down', s: SessionStatus, p: PathStatus, state: string, previousState: string | undefined, reason: string): HookEvent {
  return {
    event, session: s.id, path: p.id, peer: s.peer, local: p.local, remote: p.remote, state,
    ...(previousState !== undefined ? { previousState } : {}), reason,
  }
}

/** The script's environment additions for one event (names documented in the README). */
export function hookEnvironment (event: HookEvent, instance: { name: string, mode: string }, atIso: string): Record<string, string> {
  const env: Record<string, string> = { GST_EVENT: event.event, GST_INSTANCE: instance.name, GST_MODE: instance.mode, GST_TIME: atIso }
  const fields: Array<[keyof HookEvent, string]> = [
    ['session', 'GST_SESSION'], ['path', 'GST_PATH'], ['peer', 'GST_PEER'], ['local', 'GST_LOCAL'], ['remote', 'GST_REMOTE'],
    ['state', 'GST_STATE'], ['previousState', 'GST_PREVIOUS_STATE'], ['reason', 'GST_REASON'],
  ]
  for (const [field, name] of fields) {
    const value = event[field]
    if (value !== undefined) env[name] = value
  }
  return env
}

export interface HookRunnerOptions {
  /** Path of the executable; run with the event name as its one argument. */
  script: string
  /** Environment the script inherits (the process's), before the GST_ variables. */
  baseEnv?: Record<string, string | undefined>
  /** Killed (SIGTERM, then SIGKILL 1 s later) after this long (default 10 s). */
  timeoutMs?: number
  /** Scripts running at once (default 4). */
  maxRunning?: number
  /** Events waiting for a free slot; beyond this they are dropped and counted (default 64). */
  maxQueued?: number
  log?: Logger
  /** For tests. */
  spawnFn?: (command: string, args: string[], options: SpawnOptions) => ChildProcess
}

/** How long a finished script's output may still arrive (from a job it left running). */
const OUTPUT_DRAIN_MS = 500

/** Most output kept from one run for its log line. */
const MAX_OUTPUT_CHARS = 400

export interface HookCounters {
  started: number
  succeeded: number
  failed: number
  timedOut: number
  dropped: number
}

/** Spawns the hook script per event, bounded, never blocking the caller. */
export class HookRunner {
  readonly counters: HookCounters = { started: 0, succeeded: 0, failed: 0, timedOut: 0, dropped: 0 }
  private running = 0
  private readonly queue: Array<Record<string, string>> = []
  private readonly log: Logger
  private readonly timeoutMs: number
  private readonly maxRunning: number
  private readonly maxQueued: number
  private readonly spawnFn: NonNullable<HookRunnerOptions['spawnFn']>
  private readonly idleWaiters: Array<() => void> = []

  constructor (private readonly options: HookRunnerOptions) {
    this.log = options.log ?? silentLogger
    this.timeoutMs = options.timeoutMs ?? 10_000
    this.maxRunning = options.maxRunning ?? 4
    this.maxQueued = options.maxQueued ?? 64
    this.spawnFn = options.spawnFn ?? spawn
  }

  get active (): number { return this.running }
  get queued (): number { return this.queue.length }

  /** Starts the script for an event's environment now, queues it, or drops it when the queue is full. */
  submit (eventEnv: Record<string, string>): void {
    if (this.running < this.maxRunning) this.start(eventEnv)
    else if (this.queue.length < this.maxQueued) this.queue.push(eventEnv)
    else {
      this.counters.dropped++
      this.log.warn(`hook ${eventEnv.GST_EVENT ?? '?'}: dropped (${this.maxRunning} running, ${this.maxQueued} queued; ${this.counters.dropped} dropped so far)`)
    }
  }

  /** Resolves when nothing runs or waits (for shutdown and tests). */
  async idle (): Promise<void> {
    if (this.running === 0 && this.queue.length === 0) return
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve))
  }

  private start (eventEnv: Record<string, string>): void {
    const event = eventEnv.GST_EVENT ?? '?'
    const startedMs = performance.now()
    this.running++
    this.counters.started++
    let output = ''
    let settled = false
    let timedOut = false
    let killTimer: NodeJS.Timeout | undefined
    const finish = (outcome: string, ok: boolean): void => {
      if (settled) return
      settled = true
      clearTimeout(timer)
      clearTimeout(killTimer)
      if (timedOut) this.counters.timedOut++
      else if (ok) this.counters.succeeded++
      else this.counters.failed++
      const ms = Math.round(performance.now() - startedMs)
      const text = output.replace(/\s+/g, ' ').trim()
      const line = `hook ${event}: ${outcome} after ${ms} ms${text !== '' ? `: ${text}` : ''}`
      if (ok) this.log.info(line)
      else this.log.warn(line)
      this.running--
      const nextEnv = this.queue.shift()
      if (nextEnv !== undefined) this.start(nextEnv)
      else if (this.running === 0) for (const resolve of this.idleWaiters.splice(0)) resolve()
    }
    let child: ChildProcess
    // The script runs in its own process group, so a timeout ends whatever it started too.
    const killGroup = (signal: NodeJS.Signals): void => {
      try {
        if (child.pid === undefined) throw new Error('no pid')
        process.kill(-child.pid, signal)
      } catch {
        child.kill(signal)
      }
    }
    const timer = setTimeout(() => {
      timedOut = true
      killGroup('SIGTERM')
      killTimer = setTimeout(() => killGroup('SIGKILL'), 1000)
      killTimer.unref()
    }, this.timeoutMs)
    timer.unref()
    try {
      child = this.spawnFn(this.options.script, [event], {
        env: { ...this.options.baseEnv, ...eventEnv },
        stdio: ['ignore', 'pipe', 'pipe'],
        shell: false,
        detached: true,
      })
    } catch (err) {
      finish(`could not start ${this.options.script}: ${(err as Error).message}`, false)
      return
    }
    const keep = (chunk: Buffer): void => {
      if (output.length < MAX_OUTPUT_CHARS) output += chunk.toString('utf8').slice(0, MAX_OUTPUT_CHARS - output.length)
    }
    child.stdout?.on('data', keep)
    child.stderr?.on('data', keep)
    child.once('error', (err) => finish(`could not run ${this.options.script}: ${err.message}`, false))
    const ended = (code: number | null, signal: NodeJS.Signals | null): void => {
      if (timedOut) finish(`killed after the ${this.timeoutMs} ms timeout`, false)
      else if (code === 0) finish('exit 0', true)
      else finish(signal !== null ? `killed by ${signal}` : `exit ${String(code)}`, false)
    }
    child.once('close', ended)
    // 'close' waits for the output pipes, which a background job the script left (`cmd &`) may
    // hold for ever: once the script itself has exited, its slot is free after a short drain.
    child.once('exit', (code, signal) => {
      const drain = setTimeout(() => {
        child.stdout?.destroy()
        child.stderr?.destroy()
        ended(code, signal)
      }, OUTPUT_DRAIN_MS)
      drain.unref()
    })
  }
}

export interface HookWatcherOptions {
  /** Reads the current report (the control socket's provider). */
  collect: () => StatusReport
  runner: Pick<HookRunner, 'submit'>
  /** Poll interval (default 250 ms). */
  intervalMs?: number
  log?: Logger
}

/** Polls the report provider and hands each event of the diff to the runner. */
export class HookWatcher {
  private previous: StatusReport | undefined
  private timer: NodeJS.Timeout | undefined
  private failing = false
  private readonly log: Logger

  constructor (private readonly options: HookWatcherOptions) {
    this.log = options.log ?? silentLogger
  }

  /** Takes the first report as the baseline (no events for what is already up) and starts polling. */
  start (): void {
    this.previous = this.read()
    this.timer = setInterval(() => this.poll(), this.options.intervalMs ?? 250)
    this.timer.unref()
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** One poll (public for tests). */
  poll (): HookEvent[] {
    const next = this.read()
    if (next === undefined) return []
    const prev = this.previous
    this.previous = next
    if (prev === undefined) return []
    const events = diffReports(prev, next)
    for (const event of events) {
      this.log.debug(`hook event ${event.event}${event.session !== undefined ? ` session ${event.session}` : ''}${event.path !== undefined ? ` path ${event.path}` : ''}`)
      this.options.runner.submit(hookEnvironment(event, next.instance, next.at))
    }
    return events
  }

  private read (): StatusReport | undefined {
    try {
      const report = this.options.collect()
      this.failing = false
      return report
    } catch (err) {
      if (!this.failing) this.log.warn(`hooks: status unavailable: ${(err as Error).message}`)
      this.failing = true
      return undefined
    }
  }
}
