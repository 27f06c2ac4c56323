// Runs one fuzz target for a number of inputs (in batches, each with its own seed) or a time budget.
import fc from 'fast-check'
import type { FuzzTarget } from './lib.js'

export interface FuzzResult {
  name: string
  inputs: number
  seconds: number
  failures: number
  /** Shrunk counterexample and error of each failing batch (at most 3 kept). */
  reports: string[]
  /** Stopped by the time budget before the requested inputs. */
  timeBoxed: boolean
}

export interface FuzzRunOptions {
  runs: number
  seed?: number
  batchRuns?: number
  /** Stop starting new batches after this (the inputs run are then reported). */
  budgetMs?: number
}

export async function runTarget (target: FuzzTarget, options: FuzzRunOptions): Promise<FuzzResult> {
  const harness = await target.create()
  const started = performance.now()
  const result: FuzzResult = { name: target.name, inputs: 0, seconds: 0, failures: 0, reports: [], timeBoxed: false }
  const batch = options.batchRuns ?? 50_000
  let seed = options.seed ?? Date.now()
  try {
    while (result.inputs < options.runs) {
      if (options.budgetMs !== undefined && performance.now() - started > options.budgetMs) { result.timeBoxed = true; break }
      const numRuns = Math.min(batch, options.runs - result.inputs)
      const details = await fc.check(harness.property, { numRuns, seed: seed++, endOnFailure: false, ...(options.budgetMs !== undefined ? { interruptAfterTimeLimit: Math.max(1000, options.budgetMs - (performance.now() - started)), markInterruptAsFailure: false } : {}) })
      result.inputs += details.numRuns
      if (details.failed) {
        result.failures++
        if (result.reports.length < 3) result.reports.push(`seed ${details.seed}: ${fc.stringify(details.counterexample)}: ${details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance)}`)
      }
      if (details.interrupted) { result.timeBoxed = true; break }
    }
    if (harness.after) await harness.after()
  } finally {
    result.seconds = (performance.now() - started) / 1000
    if (harness.close) await harness.close()
  }
  return result
}
