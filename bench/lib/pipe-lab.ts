/**
 * The pipe (gst-server, gst-client) inside lab namespaces, for bench/pipe-multipath.ts and
 * test/netns/pipe-multipath.test.ts: starting both ends with their control sockets in a private
 * directory, reading their status (what `gst show --json` prints) straight from the socket,
 * waiting until a client's session runs a given number of paths, and steering the client
 * namespace's unbound sockets onto one lab link (single-path baselines over any link).
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Lab } from '../../test/lab/lab.js'
import { requestControl } from '../../src/control/control-client.js'
import { socketPath } from '../../src/control/paths.js'
import type { PathStatus, StatusReport } from '../../src/control/status.js'
import { NsProcess, sleep } from './vpn.js'

const root = fileURLToPath(new URL('../../../', import.meta.url))
export const gstServerPath = `${root}dist/cmd/gst-server.js`
export const gstClientPath = `${root}dist/cmd/gst-client.js`

/** A gst-client that refused `--path` (built before multipath): its own words, to report. */
export class PathOptionUnsupported extends Error {
  override name = 'PathOptionUnsupported'
}

/** One directory for the control sockets of a run; removed on exit. */
export function controlDir (): string {
  const dir = mkdtempSync(join(tmpdir(), 'gst-lab-'))
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface GstOptions {
  /** The key itself (base64, from `gst keygen`); passed through the environment, never argv. */
  key: string
  controlDir: string
  /** --name of the instance (its control socket's name). */
  name: string
  extra?: string[]
  /** Node flags before the script (e.g. --cpu-prof --cpu-prof-dir DIR). */
  nodeArgs?: string[]
}

/** A running gst-server or gst-client in a namespace. */
export class GstProcess {
  constructor (readonly proc: NsProcess, readonly name: string, readonly socket: string) {}

  /** The instance's status report (`gst show NAME --json`). */
  async status (): Promise<StatusReport> {
    return await requestControl(this.socket, { cmd: 'status' }, { name: this.name }) as StatusReport
  }

  async stop (): Promise<void> { await this.proc.stop() }
  cpuSeconds (): number { return this.proc.cpuSeconds() }
}

function gst (bin: string, ns: string, positional: string[], o: GstOptions, flags: string[]): GstProcess {
  const args = [...(o.nodeArgs ?? []), bin, ...positional, 'env:GST_LAB_KEY', '--name', o.name, '--control-dir', o.controlDir, '--log-level', 'info', ...flags, ...(o.extra ?? [])]
  const proc = NsProcess.spawn(`${o.name} (${ns})`, ns, process.execPath, args, { GST_LAB_KEY: o.key })
  return new GstProcess(proc, o.name, socketPath(o.controlDir, o.name))
}

/** gst-server LISTEN TARGET; resolves once it listens. */
export async function startGstServer (ns: string, listen: string, target: string, o: GstOptions): Promise<GstProcess> {
  const server = gst(gstServerPath, ns, [listen, target], o, [])
  await server.proc.waitFor(/server listening/, 10_000)
  return server
}

export interface ClientOptions extends GstOptions {
  /** Local addresses, one `--path` each (an entry may carry ",backup"); none: today's single unbound subflow. */
  paths?: string[]
  scheduler?: 'auto' | 'weighted' | 'redundant'
}

/** gst-client LISTEN SERVER [--path ...]; does not wait (see waitForPaths). */
export function startGstClient (ns: string, listen: string, server: string, o: ClientOptions): GstProcess {
  const flags = [...(o.paths ?? []).flatMap((p) => ['--path', p]), ...(o.scheduler ? ['--scheduler', o.scheduler] : [])]
  return gst(gstClientPath, ns, [listen, server], o, flags)
}

/** The paths (subflows) of an instance's first session; [] before there is one. */
export function sessionPaths (report: StatusReport): PathStatus[] {
  return report.sessions[0]?.paths ?? []
}

/** The path whose local address is `address` (a subflow bound to it), if any. */
export function pathFrom (report: StatusReport, address: string): PathStatus | undefined {
  return sessionPaths(report).find((p) => p.local.startsWith(`${address}:`))
}

const usable = (p: PathStatus): boolean => p.state === 'up' || p.state === 'degraded' || p.state === 'backup'

/**
 * Waits until the client's session is up with at least `count` usable paths; returns its report.
 * A client that exits instead is reported with its last lines; one that refused --path throws
 * PathOptionUnsupported.
 */
export async function waitForPaths (client: GstProcess, count: number, timeoutMs = 15_000): Promise<StatusReport> {
  const deadline = Date.now() + timeoutMs
  let last = 'no status yet'
  for (;;) {
    if (!client.proc.running) {
      await client.proc.exited
      const refused = client.proc.lines.find((l) => /unknown option .--path|unknown option .--scheduler/i.test(l))
      if (refused !== undefined) throw new PathOptionUnsupported(refused.trim())
      throw new Error(`${client.name} exited before its session came up:\n${client.proc.text.slice(-2000)}`)
    }
    try {
      const report = await client.status()
      const session = report.sessions[0]
      const up = sessionPaths(report).filter(usable).length
      if (session?.state === 'up' && up >= count) return report
      last = `session ${session?.state ?? 'none'}, ${up} usable paths (${sessionPaths(report).map((p) => `${p.local} ${p.state}`).join(', ')})`
    } catch (error) {
      last = (error as Error).message   // the socket is not there yet
    }
    if (Date.now() > deadline) throw new Error(`${client.name}: not ${count} paths up within ${timeoutMs} ms: ${last}\n${client.proc.text.slice(-2000)}`)
    await sleep(100)
  }
}

/**
 * Routes the client namespace's unbound sockets towards the server over link `i` (with its
 * address as source), so a client without --path runs its single path over that link. The lab
 * starts with link 0.
 */
export function routeUnboundVia (lab: Lab, i: number): void {
  const link = lab.links[i]
  if (link === undefined) throw new Error(`no lab link ${i}`)
  const args = ['-n', lab.namespaces.client, 'route', 'replace', `${lab.serverAddress}/32`, 'dev', link.clientTun, ...(i === 0 ? [] : ['src', link.clientAddress])]
  const r = spawnSync('ip', args, { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`ip ${args.join(' ')}: ${r.stderr.trim()}`)
}
