/**
 * Child processes of a benchmark: every spawn is registered, and killAll() (run on exit, error,
 * SIGINT and SIGTERM) kills each one by its pid. Children run with `ulimit -n` raised through a
 * shell (`sh -c 'ulimit -n N; exec ...'`), since Node cannot raise its own limit.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import net from 'node:net'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'

export const OPEN_FILES_LIMIT = 65_536

export interface Child {
  name: string
  process: ChildProcess
  pid: number
  /** Everything the child wrote to stderr, for error messages. */
  stderr(): string
  /** Resolves with the exit code (or signal) once the child has exited. */
  exited: Promise<number | string>
  /** Lines of stdout, as they arrive. */
  onLine(listener: (line: string) => void): void
  offLine(listener: (line: string) => void): void
  /** Resolves once stderr matches `pattern`. */
  waitForStderr(pattern: RegExp, timeoutMs: number): Promise<void>
}

const children = new Set<Child>()

export interface SpawnOptions {
  env?: NodeJS.ProcessEnv
  /** Keep stdin open (a pipe); the child may use its end as an "exit now" signal. */
  stdinPipe?: boolean
}

function shellQuote (arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`
}

/** Starts `command args` under a raised open-files limit; its pid is the command's (exec). */
export function spawnChild (name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  const script = `ulimit -n ${OPEN_FILES_LIMIT} 2>/dev/null || ulimit -n $(ulimit -Hn); exec ${[command, ...args].map(shellQuote).join(' ')}`
  const proc = spawn('sh', ['-c', script], {
    stdio: [options.stdinPipe === true ? 'pipe' : 'ignore', 'pipe', 'pipe'],
    env: options.env ?? process.env,
  })
  if (proc.pid === undefined) throw new Error(`couldn't start ${name}`)
  let stderr = ''
  const listeners: Array<(line: string) => void> = []
  let partial = ''
  proc.stdout!.setEncoding('utf8')
  proc.stdout!.on('data', (text: string) => {
    partial += text
    let newline
    while ((newline = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, newline)
      partial = partial.slice(newline + 1)
      for (const listener of listeners) listener(line)
    }
  })
  proc.stderr!.setEncoding('utf8')
  const stderrWaiters: Array<() => void> = []
  proc.stderr!.on('data', (text: string) => {
    if (stderr.length < 100_000) stderr += text
    for (const check of [...stderrWaiters]) check()
  })
  proc.stdin?.on('error', () => {})
  const exited = new Promise<number | string>((resolve) => proc.once('exit', (code, signal) => resolve(code ?? signal ?? -1)))
  const child: Child = {
    name,
    process: proc,
    pid: proc.pid,
    stderr: () => stderr,
    exited,
    onLine: (listener) => { listeners.push(listener) },
    offLine: (listener) => { const i = listeners.indexOf(listener); if (i >= 0) listeners.splice(i, 1) },
    waitForStderr: async (pattern, timeoutMs) => await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => { remove(); reject(new Error(`${name}: no ${String(pattern)} on stderr within ${timeoutMs} ms${tail(child)}`)) }, timeoutMs)
      const remove = (): void => { clearTimeout(timer); stderrWaiters.splice(stderrWaiters.indexOf(check), 1) }
      const check = (): void => { if (pattern.test(stderr)) { remove(); resolve() } }
      stderrWaiters.push(check)
      void exited.then((code) => { if (stderrWaiters.includes(check)) { remove(); reject(new Error(`${name} exited (${code})${tail(child)}`)) } })
      check()
    }),
  }
  children.add(child)
  void exited.then(() => children.delete(child))
  return child
}

/** Waits for the first stdout line that parses as JSON and satisfies `accept`. */
export async function nextJson<T> (child: Child, timeoutMs: number, accept: (value: Record<string, unknown>) => boolean = () => true): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    let done = false
    const timer = setTimeout(() => finish(new Error(`${child.name}: no answer within ${timeoutMs} ms${tail(child)}`)), timeoutMs)
    const finish = (error: Error | undefined, value?: T): void => {
      if (done) return
      done = true
      clearTimeout(timer)
      if (error !== undefined) reject(error)
      else resolve(value as T)
    }
    child.onLine((line) => {
      if (done || !line.startsWith('{')) return
      try {
        const value = JSON.parse(line) as Record<string, unknown>
        if (accept(value)) finish(undefined, value as T)
      } catch { /* not ours */ }
    })
    void child.exited.then((code) => finish(new Error(`${child.name} exited (${code})${tail(child)}`)))
  })
}

function tail (child: Child): string {
  const text = child.stderr().trim()
  return text === '' ? '' : `: ${text.split('\n').slice(-3).join(' | ')}`
}

/** Stops one child: SIGTERM, then SIGKILL after `graceMs`. */
export async function stopChild (child: Child, graceMs = 2000): Promise<void> {
  if (!children.has(child)) return
  try { process.kill(child.pid, 'SIGTERM') } catch { return }
  const timer = setTimeout(() => { try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ } }, graceMs)
  await child.exited
  clearTimeout(timer)
}

/** Kills every child still running, by pid (used on exit and on signals). */
export function killAll (): void {
  for (const child of children) {
    try { process.kill(child.pid, 'SIGKILL') } catch { /* gone */ }
  }
  children.clear()
}

let installed = false
/** Kills the children whenever this process ends, however it ends. */
export function installCleanup (): void {
  if (installed) return
  installed = true
  process.on('exit', killAll)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      killAll()
      process.stderr.write(`\n${signal}: children stopped\n`)
      process.exit(130)
    })
  }
  process.on('uncaughtException', (err) => { killAll(); console.error(err); process.exit(1) })
  process.on('unhandledRejection', (err) => { killAll(); console.error(err); process.exit(1) })
}

/** A port that was free a moment ago on 127.0.0.1. */
export async function freePort (): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
  const port = (server.address() as AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}

/** Resolves once something accepts TCP connections on 127.0.0.1:port. */
export async function waitForPort (port: number, timeoutMs: number, child?: Child): Promise<void> {
  const deadline = Date.now() + timeoutMs
  let exited = false
  void child?.exited.then(() => { exited = true })
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect({ port, host: '127.0.0.1' })
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return
    if (exited) throw new Error(`${child!.name} exited before listening on ${port}${tail(child!)}`)
    if (Date.now() > deadline) throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms${child ? tail(child) : ''}`)
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

export const sleep = async (ms: number): Promise<void> => await new Promise((resolve) => setTimeout(resolve, ms))

// ---- /proc

const CLOCK_TICKS_PER_SECOND = 100

/** CPU seconds (user+sys, plus reaped children's) of a process; 0 once it is gone. */
export function cpuSeconds (pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // After the name: state is field 3, so utime (14) is index 11 here.
    const ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14])
    return ticks / CLOCK_TICKS_PER_SECOND
  } catch {
    return 0
  }
}

/** VmRSS of a process in bytes, or undefined when it is gone. */
export function rssBytes (pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8')
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status)
    return match === null ? undefined : Number(match[1]) * 1024
  } catch {
    return undefined
  }
}

/** Busy CPU seconds of the whole machine (all cores) from /proc/stat. */
export function machineBusySeconds (): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!
  const ticks = line.trim().split(/\s+/).slice(1).map(Number)
  // user nice system idle iowait irq softirq steal ...: busy is everything but idle and iowait.
  const busy = ticks.reduce((a, b) => a + b, 0) - (ticks[3] ?? 0) - (ticks[4] ?? 0)
  return busy / CLOCK_TICKS_PER_SECOND
}

/** CPU seconds used by this process and every child it has reaped. */
export function ownTreeSeconds (): number {
  return cpuSeconds(process.pid)
}
