// `gst show NAME --json` from tests: one report, or polled until a condition holds.
import assert from 'node:assert/strict'
import type { SpawnOptions } from 'node:child_process'
import type { StatusReport } from '../../src/control/status.js'
import { binPath, run, type ProcessGroup } from './processes.js'

/** One `gst show NAME --json` report from the instances in `controlDir`. */
export async function showJson (group: ProcessGroup, controlDir: string, name: string, options: SpawnOptions = {}): Promise<StatusReport> {
  const r = await run(group, 'gst', process.execPath, [binPath('gst'), 'show', name, '--json', '--control-dir', controlDir], { ...options, timeoutMs: 20_000 })
  assert.equal(r.code, 0, r.stderr)
  return JSON.parse(r.stdout) as StatusReport
}

/** Polls `read` every 100 ms until `ok` holds for its report; fails with the last report. */
export async function reportUntil (read: () => Promise<StatusReport>, ok: (r: StatusReport) => boolean, what: string, timeoutMs: number): Promise<StatusReport> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const r = await read()
    if (ok(r)) return r
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}; last report:\n${JSON.stringify(r, null, 2)}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
