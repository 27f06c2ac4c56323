#!/usr/bin/env node
/**
 * ttt: the multipath VPN.
 *   ttt server --listen 0.0.0.0:5000 --key @ttt.key [--address 10.9.0.1/24]
 *   ttt client --server vpn.example:5000 --key @ttt.key [--address 10.9.0.2/24] --path ADDR[,backup][,rate=20mbit] ...
 */
import { cac } from 'cac'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { exitAfterShutdown, runMain, runSubcommand } from './run-main.js'
import { createLogger, parseLogFormat, parseLogLevel } from './logger.js'
import { loadKey } from './key-source.js'
import { sameKey } from '../src/crypto/key.js'
import { parseSeconds } from './pipe-options.js'
import { asList, checkPaths, checkPeers, parseCidr, parseMtu, parsePathSpec, parsePeerSpec, parseScheduler, parseEqualDelay } from './ttt-options.js'
import { keyHelp } from './pipe-cli.js'
import { UsageError } from '../src/errors.js'
import { formatHostPort, parseHostPort } from '../src/pipe/address.js'
import { announceControl, controlDirHelp, startControl, GST_VERSION, type ControlFlags } from './control-options.js'
import { vpnReport } from './vpn-status.js'
import { monotonicClock } from '../src/clock.js'
import { addOperationsOptions, parseOperationsFlags, startOperations, type Operations, type OperationsFlags } from './operations.js'
import { applyConfig } from './config-file.js'
import type { StatusReport } from '../src/control/status.js'
import type { PeerListChange, ServerPeerConfig } from '../src/vpn/server.js'
import type { EqualDelayScope } from '../src/vpn/peer.js'
import { vpnClientCommands, vpnServerCommands, type RuntimeCommands } from './runtime-commands.js'
import { addPrivilegeOptions, assertHookRunnable, dropPrivileges, giveControlSocket, planPrivilegeDrop, type DropPlan, type PrivilegeFlags } from './privileges.js'

interface Flags extends ControlFlags, OperationsFlags, PrivilegeFlags {
  listen?: string
  server?: string
  key?: string
  address?: unknown
  route?: unknown
  path?: unknown
  peer?: unknown
  tun?: string
  mtu?: unknown
  scheduler?: unknown
  rekey?: unknown
  pace?: unknown
  equalDelay?: unknown
  logLevel?: unknown
  logFormat?: unknown
}

function common (command: ReturnType<ReturnType<typeof cac>['command']>): void {
  command
    .option('--key <key>', '[key] pre-shared key: @FILE, env:NAME or the key (required; a server may have --peer instead)')
    .option('--address <cidr>', '[cidr] address for the TUN, repeatable, e.g. 10.9.0.2/24 (default: none, TUN left unconfigured)')
    .option('--route <cidr>', '[cidr] prefix routed into the tunnel, repeatable (default: none)')
    .option('--tun <name>', '[string] TUN device name (default: chosen by the kernel, tunN)')
    .option('--mtu <bytes>', '[number] TUN MTU (default: 1422, a 1500-byte path minus IPv4, UDP and tunnel headers)')
    .option('--scheduler <kind>', '[auto|weighted|redundant] how packets are spread over paths (default: auto)')
    .option('--rekey <seconds>', '[number] rotate session keys every SECONDS (default: 60)')
    .option('--pace', '[boolean] pace each path to its estimated rate, for shallow link buffers (default: off)')
    .option('--equal-delay [scope]', '[tcp|all] hold what arrives here over faster paths to the slowest path\'s delay, so that BBR senders fill the bond from the start: TCP segments only (bare flag), or every packet, pings too (default: off)')
    .option('--log-level <level>', '[debug|info|warn|error] (default: info)')
    .option('--log-format <format>', '[text|json] (default: text)')
    .option('--name <name>', '[string] instance name for `ttt show NAME` / `gst show NAME` (default: ttt-server-PORT, or ttt-client-pidPID)')
    .option('--control-dir <dir>', controlDirHelp)
  addOperationsOptions(command)
  addPrivilegeOptions(command)
}

async function resolveAddress (hostPort: string, what: string, family?: 4 | 6): Promise<{ address: string, port: number }> {
  const { host, port } = parseHostPort(hostPort, what)
  try {
    const { address } = await lookup(host, family !== undefined ? { family } : {})
    return { address, port }
  } catch {
    throw new UsageError(`${what} "${hostPort}": cannot resolve ${host}`)
  }
}

async function setRoutes (tun: string, routes: string[]): Promise<void> {
  if (routes.length === 0) return
  const { execFile } = await import('node:child_process')
  for (const route of routes) {
    await new Promise<void>((resolve, reject) => execFile('ip', ['route', 'replace', route, 'dev', tun], (err, _o, stderr) => err ? reject(new UsageError(`couldn't add route ${route} via ${tun}: ${stderr.trim() || err.message}`)) : resolve()))
  }
}

async function untilSignal (): Promise<string> {
  return await new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}

/**
 * An instance that cannot go on (its TUN was removed) ends like a signal, but with exit status 1.
 * ttt does not recreate the TUN: its addresses and routes were the operator's, and after --user
 * it could not; a service manager restarts it (Restart=on-failure in the contrib/systemd units).
 */
function fatalStop (): { onFatal: (reason: string) => void, stopped: Promise<string> } {
  let onFatal: (reason: string) => void = () => {}
  const stopped = new Promise<string>((resolve) => { onFatal = resolve })
  return { onFatal: (reason) => onFatal(reason), stopped }
}

/** What both ends parse the same way; `keyHint` undefined: the caller loads its keys itself (the server). */
async function commonSettings (flags: Flags, keyHint: string | undefined): Promise<{
  log: ReturnType<typeof createLogger>, key: Buffer | undefined, routes: string[], tun: { name?: string, addresses: string[], mtuBytes?: number },
  scheduler: ReturnType<typeof parseScheduler>, pacing: boolean, equalDelay: EqualDelayScope | undefined, tunables: { rekeyIntervalMs?: number, traceHoles?: boolean }, drop: DropPlan | undefined
}> {
  const logLevel = parseLogLevel(flags.logLevel)
  const log = createLogger(logLevel, parseLogFormat(flags.logFormat))
  if (!flags.key && keyHint !== undefined) throw new UsageError(`--key is required (${keyHint})`)
  const addresses = asList(flags.address).map((a) => parseCidr(a, '--address'))
  const routes = asList(flags.route).map((a) => parseCidr(a, '--route'))
  const mtu = parseMtu(flags.mtu)
  const scheduler = parseScheduler(flags.scheduler)
  const rekeyIntervalMs = flags.rekey !== undefined ? parseSeconds(flags.rekey, '--rekey') * 1000 : undefined
  const drop = await planPrivilegeDrop(flags, 'ttt')
  const key = flags.key && keyHint !== undefined ? await loadKey(flags.key, log) : undefined
  return {
    log, key, routes, scheduler, pacing: flags.pace === true, equalDelay: parseEqualDelay(flags.equalDelay), drop,
    tun: { ...(flags.tun ? { name: flags.tun } : {}), addresses, ...(mtu ? { mtuBytes: mtu } : {}) },
    // At debug level the peers also trace the holes in their flows (rare events: a line each).
    tunables: { ...(rekeyIntervalMs ? { rekeyIntervalMs } : {}), ...(logLevel === 'debug' ? { traceHoles: true } : {}) },
  }
}

/**
 * Runs a started-but-not-yet-running instance: routes, control socket, metrics and hooks, then
 * (with --user) dropping root before the first packet is handled, then until SIGINT/SIGTERM,
 * then a clean shutdown.
 */
async function serve (flags: Flags, role: 'ttt-server' | 'ttt-client', port: number, instance: { tunName: string, start: () => void, close: () => void },
  routes: string[], report: (controlName: string) => StatusReport, log: ReturnType<typeof createLogger>, commands: RuntimeCommands,
  drop: DropPlan | undefined, upLine: string | undefined, fatal: Promise<string>): Promise<void> {
  // Handlers first: a SIGTERM sent as soon as the start is announced must shut down cleanly, not kill.
  const signalled = untilSignal()
  try {
    await setRoutes(instance.tunName, routes)
  } catch (err) {
    instance.close()
    throw err
  }
  const control: Awaited<ReturnType<typeof startControl>> = await startControl(flags, role, port, () => report(control?.name ?? ''), log, commands)
  let operations: Operations
  try {
    operations = await startOperations(flags, () => report(control?.name ?? ''), log)
  } catch (err) {
    instance.close()
    await control?.close()
    throw err
  }
  if (drop !== undefined) {
    try {
      giveControlSocket(drop, control?.path)
      // Path MTU discovery sets the TUN's MTU at any time: keep CAP_NET_ADMIN for it, unless
      // --mtu fixed the MTU (then nothing privileged is left to do).
      await dropPrivileges(drop, flags.mtu !== undefined ? [] : ['netAdmin'], log)
      await assertHookRunnable(flags.onEvent, drop)
    } catch (err) {
      await operations.close()
      instance.close()
      await control?.close()
      throw err
    }
  }
  instance.start()
  if (upLine) log.info(upLine)
  announceControl(control, log)
  const ended = await Promise.race([signalled.then((signal) => ({ signal })), fatal.then((reason) => ({ reason }))])
  if ('signal' in ended) log.info(`${ended.signal}: shutting down`)
  else {
    log.error(`${ended.reason}; exiting (start ttt again to create it)`)
    process.exitCode = 1
  }
  await operations.close()
  instance.close()
  await control?.close()
  exitAfterShutdown()
}

/** The server's clients from --key and --peer (as given, or as read again from --config on SIGHUP). */
async function loadPeers (flags: Flags, log: ReturnType<typeof createLogger>): Promise<ServerPeerConfig[]> {
  const peerSpecs = asList(flags.peer).map(parsePeerSpec)
  checkPeers(peerSpecs)
  if (!flags.key && peerSpecs.length === 0) throw new UsageError('ttt server needs --key, or one --peer per client (e.g. --key @ttt.key; make a key with `gst keygen > ttt.key`)')
  const peers: ServerPeerConfig[] = flags.key ? [{ name: 'default', key: await loadKey(flags.key, log), allowedIps: [] }] : []
  for (const spec of peerSpecs) {
    const peerKey = await loadKey(spec.keySpec, log).catch((err: Error) => { throw new UsageError(`--peer ${spec.name}: ${err.message}`) })
    const same = peers.find((p) => sameKey(p.key, peerKey))
    if (same !== undefined) throw new UsageError(`--peer ${spec.name}: its key is also ${same.name === 'default' ? '--key' : `peer ${same.name}'s`}; a key must name one client`)
    peers.push({ name: spec.name, key: peerKey, allowedIps: spec.allowedIps })
  }
  return peers
}

/**
 * SIGHUP: reads --config and the key files again and replaces the peer list in place (clients
 * still listed keep their sessions). Other settings need a restart. A bad file changes nothing.
 */
function reloadPeersOnHangup (cliFlags: Flags, server: { setPeers: (peers: ServerPeerConfig[]) => PeerListChange }, log: ReturnType<typeof createLogger>): () => void {
  let running = false
  const reload = (): void => {
    if (running) { log.warn('SIGHUP: a reload is already running; ignored'); return }
    running = true
    void (async () => {
      try {
        const { flags } = await applyConfig('ttt-server', cliFlags)
        const change = server.setPeers(await loadPeers(flags, log))
        const list = (names: string[]): string => names.length ? names.join(', ') : 'none'
        log.info(`SIGHUP: peer list reloaded: added ${list(change.added)}; removed ${list(change.removed)}; changed ${list(change.changed)}; ${change.kept.length} connected client(s) unchanged`)
      } catch (err) {
        log.error(`SIGHUP: peer list not reloaded, the current one stays: ${(err as Error).message}`)
      } finally {
        running = false
      }
    })()
  }
  process.on('SIGHUP', reload)
  return () => { process.off('SIGHUP', reload) }
}

async function runServer (cliFlags: Flags): Promise<void> {
  const { flags } = await applyConfig('ttt-server', cliFlags)
  parseOperationsFlags(flags)
  const { log, routes, tun, scheduler, pacing, equalDelay, tunables, drop } = await commonSettings(flags, undefined)
  const peers = await loadPeers(flags, log)
  const listen = parseHostPort(flags.listen ?? '0.0.0.0:5000', '--listen', '0.0.0.0')
  const { VpnServer } = await import('../src/vpn/server.js')
  const fatal = fatalStop()
  const server = new VpnServer({
    listen: { address: listen.host, port: listen.port },
    peers,
    tun, scheduler, pacing, equalDelay, tunables, log, onFatal: fatal.onFatal,
  })
  const startedAtMs = Date.now()
  const listenText = formatHostPort({ host: listen.host, port: server.port })
  const stopReloading = reloadPeersOnHangup(cliFlags, server, log)
  await serve(flags, 'ttt-server', server.port, server, routes, (name) => vpnReport({
    instance: { name, mode: 'vpn-server', pid: process.pid, version: GST_VERSION, listen: listenText, target: null, server: null },
    startedAtMs, nowMs: Date.now(), nowMonotonicMs: monotonicClock.now(),
  }, server.peerSnapshots(), server.stats.errors), log, vpnServerCommands(server, log), drop, undefined, fatal.stopped).finally(stopReloading)
}

async function runClient (cliFlags: Flags): Promise<void> {
  const { flags } = await applyConfig('ttt-client', cliFlags)
  parseOperationsFlags(flags)
  if (!flags.server) throw new UsageError('--server HOST:PORT is required')
  const { log, key, routes, tun, scheduler, pacing, equalDelay, tunables, drop } = await commonSettings(flags, 'e.g. --key @ttt.key')
  if (key === undefined) throw new UsageError('--key is required (e.g. --key @ttt.key)')
  const server = await resolveAddress(flags.server, '--server')
  const wildcard = server.address.includes(':') ? '::' : '0.0.0.0'
  const paths = asList(flags.path).map((spec) => parsePathSpec(spec, wildcard))
  checkPaths(paths)
  if (paths.length === 0) paths.push({ localAddress: wildcard })
  const { VpnClient } = await import('../src/vpn/client.js')
  const fatal = fatalStop()
  const { host } = parseHostPort(flags.server, '--server')
  // A name is looked up again while the server does not answer (same family as the paths).
  const resolveServer = isIP(host) !== 0 ? undefined : {
    name: host,
    lookup: async () => await resolveAddress(flags.server!, '--server', server.address.includes(':') ? 6 : 4),
  }
  const client = new VpnClient({ server, resolveServer, key, paths, tun, scheduler, pacing, equalDelay, tunables, log, onFatal: fatal.onFatal })
  const startedAtMs = Date.now()
  await serve(flags, 'ttt-client', 0, client, routes, (name) => vpnReport({
    instance: { name, mode: 'vpn-client', pid: process.pid, version: GST_VERSION, listen: client.tunName, target: null, server: client.serverEndpoint },
    startedAtMs, nowMs: Date.now(), nowMonotonicMs: monotonicClock.now(),
  }, [client.peerSnapshot()], client.stats.errors), log, vpnClientCommands(client, log), drop, `ttt client: TUN ${client.tunName}, ${paths.length} path(s) to ${client.serverEndpoint}${resolveServer ? ` (${resolveServer.name})` : ''}`, fatal.stopped)
}

async function main (argv: string[]): Promise<void> {
  const cli = cac('ttt')
  const server = cli.command('server', 'Serve ttt clients on one UDP port')
  server.option('--listen <host:port>', '[host:port] UDP address to listen on (default: 0.0.0.0:5000)')
  server.option('--peer <spec>', '[NAME,key=@FILE[,allowed=PREFIX]...] a client with its own key and the inner prefixes it owns (traffic to them goes to it; it may send only from them), repeatable (default: none; --key alone admits every client with that key, addresses learned)')
  common(server)
  server.example('ttt server --listen 0.0.0.0:5000 --key @ttt.key --address 10.9.0.1/24')
  server.action((flags: Flags) => runServer(flags))
  const client = cli.command('client', 'Bond one or more paths into a tunnel to a ttt server')
  client.option('--server <host:port>', '[host:port] the server (required)')
  client.option('--path <spec>', '[ADDR|dev=IFNAME[,dev=IFNAME][,mark=N][,backup][,rate=20mbit][,weight=N]] a local address (or interface) to send from, repeatable; dev= binds the path to an interface, mark= sets a fwmark for policy routing (default: one path from any address)')
  common(client)
  client.example('ttt client --server vpn.example:5000 --key @ttt.key --address 10.9.0.2/24 --path 192.168.1.20 --path 10.64.0.7,backup')
  client.action((flags: Flags) => runClient(flags))
  cli.command('show [name]', 'Status of running instances (same as `gst show`): sessions, paths, errors')
    .option('--json', '[boolean] print JSON (default: false)')
    .option('--watch', '[boolean] redraw every interval, with per-path throughput over the last minute (default: false)')
    .option('--interval <seconds>', '[number] seconds between redraws with --watch (default: 1)')
    .option('--control-dir <dir>', controlDirHelp)
    .action(async (name: string | undefined, flags: Record<string, unknown>) => (await import('./show.js')).show(name, flags))
  cli.command('set <name> [...settings]', 'Change a running instance: scheduler=auto|weighted|redundant (ttt), rekey=SECONDS (clients); nothing is dropped')
    .option('--control-dir <dir>', controlDirHelp)
    .example('ttt set office scheduler=redundant rekey=30')
    .action(async (name: unknown, settings: unknown[], flags: Record<string, unknown>) => (await import('./runtime-cli.js')).runSet(String(name), settings.map(String), flags))
  cli.command('path <name> <pathId> [...change]', 'Change one path of a running ttt instance: PATH_ID set up|down|backup|primary|rate=20mbit|weight=3 (PATH_ID as in show: 0 or SESSION/0)')
    .option('--control-dir <dir>', controlDirHelp)
    .example('ttt path office 1 set backup rate=20mbit')
    .action(async (name: unknown, pathId: unknown, change: unknown[], flags: Record<string, unknown>) => (await import('./runtime-cli.js')).runPath(String(name), String(pathId), change.map(String), flags))
  cli.help((sections) => [...sections, { body: keyHelp.trim() }])
  cli.version('0.1.0')
  await runSubcommand(cli, argv)
}

runMain('ttt', () => main(process.argv))
