#!/usr/bin/env node
/**
 * ttt: the multipath VPN.
 *   ttt server --listen 0.0.0.0:5000 --key @ttt.key [--address 10.9.0.1/24]
 *   ttt client --server vpn.example:5000 --key @ttt.key [--address 10.9.0.2/24] --path ADDR[,backup][,rate=20mbit] ...
 */
import { cac } from 'cac'
import { lookup } from 'node:dns/promises'
import { runMain } from './run-main.js'
import { createLogger, parseLogFormat, parseLogLevel } from './logger.js'
import { loadKey } from './key-source.js'
import { parseSeconds } from './pipe-options.js'
import { asList, parseCidr, parseMtu, parsePathSpec, parseScheduler } from './ttt-options.js'
import { keyHelp } from './pipe-cli.js'
import { UsageError } from '../src/errors.js'
import { parseHostPort } from '../src/pipe/address.js'

interface Flags {
  listen?: string
  server?: string
  key?: string
  address?: unknown
  route?: unknown
  path?: unknown
  tun?: string
  mtu?: unknown
  scheduler?: unknown
  rekey?: unknown
  logLevel?: unknown
  logFormat?: unknown
}

function common (command: ReturnType<ReturnType<typeof cac>['command']>): void {
  command
    .option('--key <key>', '[key] pre-shared key: @FILE, env:NAME or the key (required)')
    .option('--address <cidr>', '[cidr] address for the TUN, repeatable, e.g. 10.9.0.2/24 (default: none, TUN left unconfigured)')
    .option('--route <cidr>', '[cidr] prefix routed into the tunnel, repeatable (default: none)')
    .option('--tun <name>', '[string] TUN device name (default: chosen by the kernel, tunN)')
    .option('--mtu <bytes>', '[number] TUN MTU (default: 1422, a 1500-byte path minus IPv4, UDP and tunnel headers)')
    .option('--scheduler <kind>', '[auto|weighted|redundant] how packets are spread over paths (default: auto)')
    .option('--rekey <seconds>', '[number] rotate session keys every SECONDS (default: 60)')
    .option('--log-level <level>', '[debug|info|warn|error] (default: info)')
    .option('--log-format <format>', '[text|json] (default: text)')
}

async function resolveAddress (hostPort: string, what: string): Promise<{ address: string, port: number }> {
  const { host, port } = parseHostPort(hostPort, what)
  try {
    const { address } = await lookup(host)
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

async function runServer (flags: Flags): Promise<void> {
  const log = createLogger(parseLogLevel(flags.logLevel), parseLogFormat(flags.logFormat))
  if (!flags.key) throw new UsageError('--key is required (e.g. --key @ttt.key; make one with `gst keygen > ttt.key`)')
  const listen = parseHostPort(flags.listen ?? '0.0.0.0:5000', '--listen', '0.0.0.0')
  const addresses = asList(flags.address).map((a) => parseCidr(a, '--address'))
  const routes = asList(flags.route).map((a) => parseCidr(a, '--route'))
  const mtu = parseMtu(flags.mtu)
  const scheduler = parseScheduler(flags.scheduler)
  const rekeyIntervalMs = flags.rekey !== undefined ? parseSeconds(flags.rekey, '--rekey') * 1000 : undefined
  const key = await loadKey(flags.key, log)
  const { VpnServer } = await import('../src/vpn/server.js')
  const server = new VpnServer({
    listen: { address: listen.host, port: listen.port },
    peers: [{ name: 'default', key, allowedIps: [] }],
    tun: { ...(flags.tun ? { name: flags.tun } : {}), addresses, ...(mtu ? { mtuBytes: mtu } : {}) },
    scheduler,
    ...(rekeyIntervalMs ? { tunables: { rekeyIntervalMs } } : {}),
    log,
  })
  await setRoutes(server.tunName, routes)
  server.start()
  const signal = await untilSignal()
  log.info(`${signal}: shutting down`)
  server.close()
}

async function runClient (flags: Flags): Promise<void> {
  const log = createLogger(parseLogLevel(flags.logLevel), parseLogFormat(flags.logFormat))
  if (!flags.key) throw new UsageError('--key is required (e.g. --key @ttt.key)')
  if (!flags.server) throw new UsageError('--server HOST:PORT is required')
  const server = await resolveAddress(flags.server, '--server')
  const paths = asList(flags.path).map(parsePathSpec)
  if (paths.length === 0) paths.push({ localAddress: server.address.includes(':') ? '::' : '0.0.0.0' })
  const addresses = asList(flags.address).map((a) => parseCidr(a, '--address'))
  const routes = asList(flags.route).map((a) => parseCidr(a, '--route'))
  const mtu = parseMtu(flags.mtu)
  const scheduler = parseScheduler(flags.scheduler)
  const rekeyIntervalMs = flags.rekey !== undefined ? parseSeconds(flags.rekey, '--rekey') * 1000 : undefined
  const key = await loadKey(flags.key, log)
  const { VpnClient } = await import('../src/vpn/client.js')
  const client = new VpnClient({
    server,
    key,
    paths,
    tun: { ...(flags.tun ? { name: flags.tun } : {}), addresses, ...(mtu ? { mtuBytes: mtu } : {}) },
    scheduler,
    ...(rekeyIntervalMs ? { tunables: { rekeyIntervalMs } } : {}),
    log,
  })
  await setRoutes(client.tunName, routes)
  client.start()
  log.info(`ttt client: TUN ${client.tunName}, ${paths.length} path(s) to ${server.address}:${server.port}`)
  const signal = await untilSignal()
  log.info(`${signal}: shutting down`)
  client.close()
}

async function main (argv: string[]): Promise<void> {
  const cli = cac('ttt')
  const server = cli.command('server', 'Serve ttt clients on one UDP port')
  server.option('--listen <host:port>', '[host:port] UDP address to listen on (default: 0.0.0.0:5000)')
  common(server)
  server.example('ttt server --listen 0.0.0.0:5000 --key @ttt.key --address 10.9.0.1/24')
  server.action((flags: Flags) => runServer(flags))
  const client = cli.command('client', 'Bond one or more paths into a tunnel to a ttt server')
  client.option('--server <host:port>', '[host:port] the server (required)')
  client.option('--path <spec>', '[ADDR[,backup][,rate=20mbit][,weight=N]] a local address to send from, repeatable (default: one path from any address)')
  common(client)
  client.example('ttt client --server vpn.example:5000 --key @ttt.key --address 10.9.0.2/24 --path 192.168.1.20 --path 10.64.0.7,backup')
  client.action((flags: Flags) => runClient(flags))
  cli.help((sections) => [...sections, { body: keyHelp.trim() }])
  cli.version('0.1.0')
  cli.parse(argv, { run: false })
  if (cli.options.help || cli.options.version) return
  if (cli.matchedCommand === undefined) {
    cli.outputHelp()
    process.exitCode = argv.length > 2 ? 2 : 0
    return
  }
  await cli.runMatchedCommand()
}

runMain('ttt', () => main(process.argv))
