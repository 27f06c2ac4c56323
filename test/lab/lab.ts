// The test lab's driver: two network namespaces joined by emulated links (see wire.c).
//
//   client netns  PREFIXc<i> (TUN)  <-- wire: cut, loss, queue, rate, delay -->  PREFIXs<i> (TUN)  server netns
//
// Link i: client address 10.B.(i+1).1/24, server-side TUN 10.B.(i+1).2/24. The server also owns
// 10.B.255.1 on its loopback, reachable over every link; in the client a rule
// `from 10.B.(i+1).1 lookup 100+i` sends a socket bound to link i's address out of link i, and
// unbound sockets use link 0. All addresses live only inside the two namespaces we create.
import { spawn, execFile, execFileSync, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { existsSync } from 'node:fs'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const execFileAsync = promisify(execFile)

export interface LinkConfig {
  delayMs?: number
  /** Uniform jitter of ± jitterMs on the one-way delay; order is kept unless `reorder`. */
  jitterMs?: number
  /** 0 or absent: unlimited. */
  rateMbit?: number
  lossPct?: number
  /** Droptail limit of the rate queue (default 1000 packets). */
  queuePkts?: number
  /** Byte limit of the rate queue (0: none). */
  queueBytes?: number
  reorder?: boolean
}

/** A runtime change: any LinkConfig field, for both directions or just one. */
export type LinkChange = LinkConfig & { dir?: 'both' | 'up' | 'down' }

export interface LabOptions {
  links: readonly LinkConfig[]
  /** Name prefix of namespaces and interfaces; at most 11 characters (default: gl, the pid in
   * base 36, _, a counter; namespaces with such a prefix whose process died are reclaimed). */
  prefix?: string
  /** Seed of the wire's loss and jitter draws (default 1: reproducible). */
  seed?: number
}

export type Side = 'client' | 'server'

export interface DirectionStats {
  rxPkts: number, rxBytes: number, txPkts: number, txBytes: number
  dropCut: number, dropLoss: number, dropQueue: number, dropOverflow: number, writeErrors: number
  queuePkts: number, queueBytes: number, maxQueuePkts: number, inFlightPkts: number
}
/** Per-link counters; `up` is client -> server. */
export interface LinkStats { link: number, cut: boolean, nowNs: number, up: DirectionStats, down: DirectionStats }

export interface LabLink {
  clientAddress: string
  clientTun: string
  serverTun: string
  table: number
}

const root = fileURLToPath(new URL('../../../', import.meta.url))
export const wirePath = `${root}build/Release/wire`

const WIRE_KEYS: Record<keyof LinkConfig, string> = {
  delayMs: 'delay_ms', jitterMs: 'jitter_ms', rateMbit: 'rate_mbit', lossPct: 'loss_pct', queuePkts: 'queue_pkts', queueBytes: 'queue_bytes', reorder: 'reorder',
}

/** Why the lab cannot run here, or undefined when it can. */
export function labUnavailableReason (): string | undefined {
  if (process.getuid?.() !== 0) return 'needs root (network namespaces and TUN devices)'
  if (!existsSync('/dev/net/tun')) return 'no /dev/net/tun'
  if (!existsSync(wirePath)) return `${wirePath} is missing (run npm install, which builds it)`
  if (spawnSync('ip', ['-V']).status !== 0) return 'iproute2 (ip) is not installed'
  return undefined
}

const live = new Set<Lab>()
let exitHooksInstalled = false

function installExitHooks (): void {
  if (exitHooksInstalled) return
  exitHooksInstalled = true
  process.on('exit', () => { for (const lab of live) lab.downSync() })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      for (const lab of live) lab.downSync()
      process.kill(process.pid, signal)
    })
  }
}

function ipBatch (commands: readonly string[], netns?: string): void {
  const args = netns ? ['-n', netns, '-batch', '-'] : ['-batch', '-']
  const result = spawnSync('ip', args, { input: commands.join('\n') + '\n', encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`lab: ip ${args.join(' ')} failed: ${result.stderr.trim()}`)
}

/** Default prefixes: gl, the pid in base 36, _, a counter (several labs per process). */
const DEFAULT_PREFIX = /^gl([0-9a-z]+)_\d+-[cs]$/
let labsStarted = 0

function isAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (error) { return (error as { code?: string }).code === 'EPERM' }
}

/** Removes namespaces left with this prefix, and those of default-prefixed labs whose process
 * died without cleaning up (the prefix holds its pid), killing whatever still runs inside. */
function removeLeftovers (prefix: string): void {
  const list = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' }).stdout ?? ''
  for (const line of list.split('\n')) {
    const name = line.split(' ')[0] ?? ''
    const owner = DEFAULT_PREFIX.exec(name)?.[1]
    const orphan = owner !== undefined && !isAlive(parseInt(owner, 36))
    if (name !== `${prefix}-c` && name !== `${prefix}-s` && !orphan) continue
    const pids = (spawnSync('ip', ['netns', 'pids', name], { encoding: 'utf8' }).stdout ?? '').split('\n').filter(Boolean)
    for (const pid of pids) { try { process.kill(Number(pid), 'SIGKILL') } catch {} }
    spawnSync('ip', ['netns', 'del', name])
  }
}

export class Lab {
  readonly prefix: string
  readonly namespaces: Record<Side, string>
  readonly links: readonly LabLink[]
  /** The server's address, reachable over every link. */
  readonly serverAddress: string
  /** Whether the wire got SCHED_FIFO (its timing degrades under load without it). */
  realtime = false
  private wire: ChildProcess | undefined
  private readonly replies: Array<(line: string) => void> = []
  private readonly children = new Set<ChildProcess>()

  private constructor (prefix: string, block: number, linkCount: number) {
    this.prefix = prefix
    this.namespaces = { client: `${prefix}-c`, server: `${prefix}-s` }
    this.serverAddress = `10.${block}.255.1`
    this.links = Array.from({ length: linkCount }, (_, i) => ({
      clientAddress: `10.${block}.${i + 1}.1`, clientTun: `${prefix}c${i}`, serverTun: `${prefix}s${i}`, table: 100 + i,
    }))
  }

  static async up (options: LabOptions): Promise<Lab> {
    const reason = labUnavailableReason()
    if (reason) throw new Error(`lab: ${reason}`)
    const prefix = options.prefix ?? `gl${process.pid.toString(36)}_${labsStarted++}`
    if (!/^[a-z][a-z0-9_]{0,10}$/.test(prefix)) throw new Error(`lab: prefix ${prefix} must be 1-11 lowercase letters, digits or _`)
    if (options.links.length < 1 || options.links.length > 16) throw new Error('lab: 1 to 16 links')
    // Our own /16 inside 10.0.0.0/8, chosen by pid so concurrent runs differ even in their logs.
    const lab = new Lab(prefix, 16 + (process.pid % 200), options.links.length)
    installExitHooks()
    removeLeftovers(prefix)
    live.add(lab)
    try {
      lab.build()
      await lab.startWire(options.seed ?? 1)
      for (const [i, link] of options.links.entries()) await lab.set(i, link)
      return lab
    } catch (error) {
      await lab.down()
      throw error
    }
  }

  clientAddress (link: number): string {
    return this.link(link).clientAddress
  }

  private link (i: number): LabLink {
    const link = this.links[i]
    if (!link) throw new Error(`lab: no link ${i}`)
    return link
  }

  private build (): void {
    const { client, server } = this.namespaces
    ipBatch([`netns add ${client}`, `netns add ${server}`])
    // Before any TUN exists, so they inherit it: no IPv6 (router solicitations would cross the
    // wire and count as traffic), no reverse-path filter (replies arrive on any link).
    for (const ns of [client, server]) {
      execFileSync('ip', ['netns', 'exec', ns, 'sysctl', '-q', '-w',
        'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1',
        'net.ipv4.conf.all.rp_filter=0', 'net.ipv4.conf.default.rp_filter=0'])
    }
    const clientCmds = ['link set lo up']
    const serverCmds = ['link set lo up', `addr add ${this.serverAddress}/32 dev lo`]
    this.links.forEach((link, i) => {
      const net = link.clientAddress.replace(/\.1$/, '')
      clientCmds.push(
        `tuntap add dev ${link.clientTun} mode tun`,
        `addr add ${link.clientAddress}/24 dev ${link.clientTun}`,
        `link set ${link.clientTun} up`,
        `route add ${this.serverAddress}/32 dev ${link.clientTun} table ${link.table}`,
        `rule add from ${link.clientAddress} lookup ${link.table} pref ${1000 + i}`,
      )
      if (i === 0) clientCmds.push(`route add ${this.serverAddress}/32 dev ${link.clientTun}`)
      serverCmds.push(
        `tuntap add dev ${link.serverTun} mode tun`,
        `addr add ${net}.2/24 dev ${link.serverTun}`,
        `link set ${link.serverTun} up`,
      )
    })
    ipBatch(clientCmds, client)
    ipBatch(serverCmds, server)
  }

  private async startWire (seed: number): Promise<void> {
    const specs = this.links.map((l) => `/run/netns/${this.namespaces.client}:${l.clientTun}:/run/netns/${this.namespaces.server}:${l.serverTun}`)
    const wire = spawn(wirePath, ['--seed', String(seed), ...specs], { stdio: ['pipe', 'pipe', 'pipe'] })
    this.wire = wire
    let stderr = ''
    wire.stderr!.on('data', (d: Buffer) => { stderr += d.toString() })
    const lines = createInterface({ input: wire.stdout! })
    const ready = new Promise<string>((resolve, reject) => {
      this.replies.push(resolve)
      wire.once('exit', (code) => reject(new Error(`lab: wire exited (${code}): ${stderr.trim()}`)))
    })
    lines.on('line', (line) => this.replies.shift()?.(line))
    wire.on('exit', () => { for (const reply of this.replies.splice(0)) reply('err wire exited') })
    const hello = await ready
    this.realtime = /realtime=1/.test(hello)
  }

  /** Sends one command to the wire and returns its one-line reply. */
  private async command (line: string): Promise<string> {
    const wire = this.wire
    if (!wire || wire.exitCode !== null) throw new Error('lab: the wire is not running')
    const reply = new Promise<string>((resolve) => this.replies.push(resolve))
    wire.stdin!.write(line + '\n')
    const text = await reply
    if (text.startsWith('err')) throw new Error(`lab: wire: ${line}: ${text}`)
    return text
  }

  /** Changes link parameters at once (both directions unless `dir`). */
  async set (link: number, change: LinkChange): Promise<void> {
    this.link(link)
    const parts = [`set ${link}`]
    if (change.dir) parts.push(`dir=${change.dir}`)
    for (const [key, wireKey] of Object.entries(WIRE_KEYS) as Array<[keyof LinkConfig, string]>) {
      const value = change[key]
      if (value !== undefined) parts.push(`${wireKey}=${typeof value === 'boolean' ? Number(value) : value}`)
    }
    await this.command(parts.join(' '))
  }

  /** Cuts the link now, or at a CLOCK_MONOTONIC time (process.hrtime.bigint() is that clock). */
  async cut (link: number, atNs?: bigint): Promise<void> {
    this.link(link)
    await this.command(`cut ${link}${atNs === undefined ? '' : ` ${atNs}`}`)
  }

  async restore (link: number, atNs?: bigint): Promise<void> {
    this.link(link)
    await this.command(`restore ${link}${atNs === undefined ? '' : ` ${atNs}`}`)
  }

  async stats (link: number): Promise<LinkStats> {
    this.link(link)
    return JSON.parse(await this.command(`stats ${link}`)) as LinkStats
  }

  /** CLOCK_MONOTONIC in ns, the clock of cut/restore times. */
  nowNs (): bigint {
    return process.hrtime.bigint()
  }

  /** Runs a command to completion inside a namespace; rejects with its stderr on failure. */
  async exec (side: Side, cmd: string, args: readonly string[] = [], options: { timeoutMs?: number } = {}): Promise<{ stdout: string, stderr: string }> {
    try {
      return await execFileAsync('ip', ['netns', 'exec', this.namespaces[side], cmd, ...args], { timeout: options.timeoutMs ?? 60_000, maxBuffer: 64 << 20 })
    } catch (error) {
      const e = error as { stderr?: string, message: string }
      throw new Error(`lab: ${side}: ${cmd} ${args.join(' ')} failed: ${(e.stderr ?? '').trim() || e.message}`)
    }
  }

  /** Starts a long-running process inside a namespace; it is killed by down(). */
  spawn (side: Side, cmd: string, args: readonly string[] = [], options: SpawnOptions = {}): ChildProcess {
    const child = spawn('ip', ['netns', 'exec', this.namespaces[side], cmd, ...args], { stdio: 'pipe', ...options })
    this.children.add(child)
    child.once('exit', () => this.children.delete(child))
    return child
  }

  /** Stops the wire and every spawned process and deletes both namespaces (and so the TUNs). */
  async down (): Promise<void> {
    this.downSync()
  }

  /** down() for exit handlers, where nothing asynchronous runs any more. */
  downSync (): void {
    for (const child of this.children) child.kill('SIGKILL')
    this.children.clear()
    // Should the wire outlive its SIGKILL for a moment, a TUN vanishing under it makes it exit.
    if (this.wire && this.wire.exitCode === null) this.wire.kill('SIGKILL')
    removeLeftovers(this.prefix)
    live.delete(this)
  }
}
