/**
 * The pipe's commands, shared by `gst-server`, `gst-client` and `gst pipe server|client`.
 * Argument order is gstunnel's: server LISTEN TARGET KEY, client LISTEN SERVER KEY.
 */
import { cac, type CAC } from 'cac'
import { UsageError } from '../src/errors.js'
import { createLogger, parseLogFormat, parseLogLevel } from './logger.js'
import { loadKey } from './key-source.js'
import { tunablesFromFlags, defaults, parsePipePaths, type PipeFlags } from './pipe-options.js'
import { parseScheduler } from './ttt-options.js'
import { GST_VERSION, announceControl, controlDirHelp, startControl, type ControlFlags } from './control-options.js'
import { addOperationsOptions, parseOperationsFlags, startOperations, type Operations, type OperationsFlags } from './operations.js'
import type { StatusReport } from '../src/control/status.js'
import { applyConfig } from './config-file.js'
import type { RuntimeCommands } from './runtime-commands.js'
import { addPrivilegeOptions, assertHookRunnable, dropPrivileges, giveControlSocket, planPrivilegeDrop, type DropPlan, type PrivilegeFlags } from './privileges.js'
import { exitAfterShutdown } from './run-main.js'

const MiB = 1024 * 1024

function addCommonOptions (command: ReturnType<CAC['command']>): void {
  command
    .option('--rekey <seconds>', `[number] rotate session keys every SECONDS by a fresh handshake (default: ${defaults.rekeyIntervalMs / 1000})`)
    .option('--keepalive <seconds>', `[number] ping an idle session every SECONDS; drop it after 3 silent intervals (default: ${defaults.keepaliveMs / 1000})`)
    .option('--window <bytes>', `[size] per-stream receive window, e.g. 256k or 4m: bounds memory per stream (default: ${defaults.streamWindowBytes / MiB}m)`)
    .option('--max-streams <n>', `[number] streams open at once per session (default: ${defaults.maxStreams})`)
    .option('--session-buffer <bytes>', `[size] received bytes held for slow local readers per session before it stops reading the network (default: ${defaults.sessionBufferBytes / MiB}m)`)
    .option('--handshake-timeout <seconds>', `[number] give up on a handshake or key rotation after SECONDS (default: ${defaults.handshakeTimeoutMs / 1000})`)
    .option('--scheduler <kind>', '[auto|weighted|redundant] how this side spreads a session\'s data over its subflows (default: auto)')
    .option('--log-level <level>', '[debug|info|warn|error] least severe events logged (default: info)')
    .option('--log-format <format>', '[text|json] one line per event on stderr (default: text)')
    .option('--name <name>', '[string] instance name for `gst show` and the control socket (default: server-PORT or client-PORT, PORT being LISTEN\'s)')
    .option('--control-dir <dir>', controlDirHelp)
  addOperationsOptions(command)
  addPrivilegeOptions(command)
}

type Flags = PipeFlags & ControlFlags & OperationsFlags & PrivilegeFlags & { logLevel?: unknown, logFormat?: unknown, path?: unknown, scheduler?: unknown }

/** Wall-clock and monotonic times for a status report. */
function reportTimes (startedAtMs: number): { startedAtMs: number, nowMs: number, nowMonotonicMs: number } {
  return { startedAtMs, nowMs: Date.now(), nowMonotonicMs: performance.now() }
}

function requireArgs (args: Array<string | undefined>, usage: string): void {
  if (args.some((a) => a === undefined || a === '')) throw new UsageError(`missing arguments: usage: ${usage}`)
}

async function runServer (listenArg: string | undefined, targetArg: string | undefined, keyArg: string | undefined, cliFlags: Flags): Promise<void> {
  const { flags, positional } = await applyConfig('gst-server', cliFlags, { listen: listenArg, target: targetArg, key: keyArg })
  const { listen = '', target = '', key: keySpec = '' } = positional
  requireArgs([listen, target, keySpec], 'gst-server LISTEN TARGET KEY (or listen, target and key in --config)')
  const log = createLogger(parseLogLevel(flags.logLevel), parseLogFormat(flags.logFormat))
  const tunables = tunablesFromFlags(flags)
  const scheduler = parseScheduler(flags.scheduler)
  parseOperationsFlags(flags)
  const { parseHostPort } = await import('../src/pipe/address.js')
  const listenAt = parseHostPort(listen, 'LISTEN', '0.0.0.0')
  const targetAt = parseHostPort(target, 'TARGET')
  const drop = await planPrivilegeDrop(flags, 'gst-server')
  const key = await loadKey(keySpec, log)
  const { PipeServer } = await import('../src/pipe/server.js')
  const { pipeServerReport } = await import('./pipe-status.js')
  const { formatHostPort } = await import('../src/pipe/address.js')
  const server = new PipeServer({ listen: listenAt, target: targetAt, keys: [key], tunables, scheduler, log })
  const startedAtMs = Date.now()
  let listening = formatHostPort(listenAt)
  const instance = (name: string) => ({ name, mode: 'pipe-server' as const, pid: process.pid, version: GST_VERSION, listen: listening, target: formatHostPort(targetAt), server: null })
  const report = (controlName: string): StatusReport => pipeServerReport(
    { instance: instance(controlName), ...reportTimes(startedAtMs) }, server.snapshot(), server.sessionSnapshots())
  const { pipeServerCommands } = await import('./runtime-commands.js')
  await runInstance(flags, 'server', listenAt.port, server, report, (bound) => { listening = formatHostPort(bound) }, log, pipeServerCommands(server, log), drop)
}

/**
 * Control socket, metrics and hooks, then listening, then (with --user) dropping root; until
 * SIGINT/SIGTERM, then a clean shutdown. `onBound` learns the address actually bound (port 0
 * picks one).
 */
async function runInstance (flags: Flags, role: 'server' | 'client', port: number, instance: { start: () => Promise<{ address: string, port: number }>, close: () => Promise<void> },
  report: (controlName: string) => StatusReport, onBound: (bound: { host: string, port: number }) => void, log: ReturnType<typeof createLogger>,
  commands: RuntimeCommands, drop: DropPlan | undefined): Promise<void> {
  const current = (): StatusReport => report(control?.name ?? '')
  // Handlers first: a SIGTERM sent as soon as the start is announced must shut down cleanly, not kill.
  const signalled = nextSignal()
  const control: Awaited<ReturnType<typeof startControl>> = await startControl(flags, role, port, current, log, commands)
  let operations: Operations | undefined
  let started = false
  try {
    operations = await startOperations(flags, current, log)
    const bound = await instance.start()
    started = true
    onBound({ host: bound.address, port: bound.port })
    if (drop !== undefined) {
      giveControlSocket(drop, control?.path)
      await dropPrivileges(drop, [], log)
      await assertHookRunnable(flags.onEvent, drop)
    }
  } catch (err) {
    await operations?.close()
    await control?.close()
    if (started) await instance.close()
    throw err
  }
  announceControl(control, log)
  await untilSignal(log, signalled, async () => { await operations?.close(); await control?.close(); await instance.close() })
}

async function runClient (listenArg: string | undefined, serverArg: string | undefined, keyArg: string | undefined, cliFlags: Flags): Promise<void> {
  const { flags, positional } = await applyConfig('gst-client', cliFlags, { listen: listenArg, server: serverArg, key: keyArg })
  const { listen = '', server: serverAddress = '', key: keySpec = '' } = positional
  requireArgs([listen, serverAddress, keySpec], 'gst-client LISTEN SERVER KEY (or listen, server and key in --config)')
  const log = createLogger(parseLogLevel(flags.logLevel), parseLogFormat(flags.logFormat))
  const tunables = tunablesFromFlags(flags)
  const scheduler = parseScheduler(flags.scheduler)
  const paths = parsePipePaths(flags.path)
  parseOperationsFlags(flags)
  const { parseHostPort } = await import('../src/pipe/address.js')
  const listenAt = parseHostPort(listen, 'LISTEN', '127.0.0.1')
  const serverAt = parseHostPort(serverAddress, 'SERVER')
  const drop = await planPrivilegeDrop(flags, 'gst-client')
  const key = await loadKey(keySpec, log)
  const { PipeClient } = await import('../src/pipe/client.js')
  const { pipeClientReport } = await import('./pipe-status.js')
  const { formatHostPort } = await import('../src/pipe/address.js')
  const client = new PipeClient({ listen: listenAt, server: serverAt, key, paths, scheduler, tunables, log })
  const startedAtMs = Date.now()
  let listening = formatHostPort(listenAt)
  const instance = (name: string) => ({ name, mode: 'pipe-client' as const, pid: process.pid, version: GST_VERSION, listen: listening, target: null, server: formatHostPort(serverAt) })
  const report = (controlName: string): StatusReport => pipeClientReport(
    { instance: instance(controlName), ...reportTimes(startedAtMs) }, client.snapshot(), client.sessionSnapshot(), client.stateSinceMs)
  const { pipeClientCommands } = await import('./runtime-commands.js')
  await runInstance(flags, 'client', listenAt.port, client, report, (bound) => { listening = formatHostPort(bound) }, log, pipeClientCommands(client, log), drop)
}

/** The next SIGINT or SIGTERM (handlers are installed at once). */
function nextSignal (): Promise<string> {
  return new Promise<string>((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/** Runs until `signalled`, then shuts down cleanly (a second signal exits at once). */
async function untilSignal (log: ReturnType<typeof createLogger>, signalled: Promise<string>, shutdown: () => Promise<void>): Promise<void> {
  const signal = await signalled
  log.info(`${signal}: shutting down`)
  process.once(signal as NodeJS.Signals, () => process.exit(130))
  const forced = setTimeout(() => process.exit(1), 5000)
  forced.unref()
  await shutdown()
  exitAfterShutdown()
}

export function addServerCommand (cli: CAC, name: string): void {
  const command = cli.command(`${name} [listen] [target] [key]`.trim(), 'Accept encrypted sessions on LISTEN and connect their streams to TARGET')
  command.option('--connect-timeout <seconds>', `[number] give up connecting a stream to TARGET after SECONDS (default: ${defaults.connectTimeoutMs / 1000})`)
  command.option('--max-sessions <n>', `[number] client sessions at once (default: ${defaults.maxSessions})`)
  command.option('--handshake-rate <n>', `[number] handshakes per second allowed from one address (default: ${defaults.handshakesPerSecond})`)
  addCommonOptions(command)
  command.example(`${name ? 'gst pipe server' : 'gst-server'} 0.0.0.0:43210 127.0.0.1:3128 @tunnel.key`)
  command.action((listen: string, target: string, key: string, flags: Flags) => runServer(listen, target, key, flags))
}

export function addClientCommand (cli: CAC, name: string): void {
  const command = cli.command(`${name} [listen] [server] [key]`.trim(), 'Accept TCP connections on LISTEN and carry each as a stream to SERVER')
  command.option('--reconnect-max <seconds>', `[number] longest wait between reconnection attempts (default: ${defaults.reconnectMaxMs / 1000})`)
  command.option('--path <spec>', '[ADDR[,backup][,rate=20mbit][,weight=N]] one subflow from local address ADDR, repeatable: the session is striped over all and survives the loss of any (default: one path from any address)')
  command.option('--path-timeout <seconds>', `[number] end the session when no path has been up for SECONDS (default: ${defaults.pathTimeoutMs / 1000})`)
  addCommonOptions(command)
  command.example(`${name ? 'gst pipe client' : 'gst-client'} 127.0.0.1:3128 server.example:43210 @tunnel.key`)
  command.example(`${name ? 'gst pipe client' : 'gst-client'} 127.0.0.1:3128 server.example:43210 @tunnel.key --path 192.168.1.20 --path 10.64.0.7,backup`)
  command.action((listen: string, server: string, key: string, flags: Flags) => runClient(listen, server, key, flags))
}

export const keyHelp = `
KEY is @FILE (a key file made by \`gst keygen > FILE\`), env:NAME (an environment variable),
or the key itself. A KEY that is not a 32-byte base64 key is a passphrase, stretched with
Argon2id (a generated key is stronger).`

/** A single-command binary: gst-server or gst-client. */
export async function runPipeBinary (program: 'gst-server' | 'gst-client', argv: string[]): Promise<void> {
  const cli = cac(program)
  if (program === 'gst-server') addServerCommand(cli, '')
  else addClientCommand(cli, '')
  cli.help((sections) => [...sections, { body: keyHelp.trim() }])
  cli.version('0.1.0')
  cli.parse(argv, { run: false })
  if (cli.options.help || cli.options.version) return
  await cli.runMatchedCommand()
}
