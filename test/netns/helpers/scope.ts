// What the VPN's netns tests share: why a test must be skipped, and a scope that tears down
// everything a test started (processes, lab, veth star, relay, anything else) in t.after, even
// when an assertion failed.
import type { TestContext } from 'node:test'
import { existsSync } from 'node:fs'
import { spawnSync } from 'node:child_process'
import { Lab, labUnavailableReason, type LinkConfig } from '../../lab/lab.js'
import { type NsProcess, type Relay, type VethStar, tttPath } from '../../../bench/lib/vpn.js'

/** Why ttt lab tests cannot run here (not root, no lab, no iperf3 when asked for, no build), or undefined. */
export function tttLabSkip (options: { iperf?: boolean, lab?: boolean } = {}): string | undefined {
  if (options.lab !== false) {
    const reason = labUnavailableReason()
    if (reason !== undefined) return reason
  } else if (process.getuid?.() !== 0) return 'needs root (network namespaces and TUN devices)'
  if (options.iperf === true && spawnSync('iperf3', ['--version']).status !== 0) return 'iperf3 is not installed'
  return existsSync(tttPath) ? undefined : `${tttPath} is missing (run npx tsc -p .)`
}

/** Everything a test starts, torn down in t.after even when an assertion failed. */
export class Scope {
  lab: Lab | undefined
  star: VethStar | undefined
  readonly procs: NsProcess[] = []
  relay: Relay | undefined
  private readonly cleanups: Array<() => void | Promise<void>> = []
  constructor (t: TestContext) { t.after(async () => await this.close()) }
  add (p: NsProcess): NsProcess { this.procs.push(p); return p }
  /** Another cleanup, run after the processes are gone (e.g. namespaces the test made itself). */
  onClose (cleanup: () => void | Promise<void>): void { this.cleanups.push(cleanup) }
  async lab$ (links: LinkConfig[]): Promise<Lab> { this.lab = await Lab.up({ links }); return this.lab }
  async close (): Promise<void> {
    for (const p of this.procs) p.kill()
    await Promise.all(this.procs.map(async (p) => await p.exited))
    this.relay?.proc.kill()
    await this.lab?.down()
    this.star?.destroy()
    for (const cleanup of this.cleanups) await cleanup()
  }
}
