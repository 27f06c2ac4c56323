/**
 * Command-line options of a benchmark: `--help` prints its usage line, and an unknown option or a
 * bad value ends it with status 2 and one line saying what to fix, before any lab is built (a typo
 * must not cost a ten-minute run, nor write a table measured with the wrong settings).
 */
import { parseArgs } from 'node:util'

/**
 * Each option's kind: `number` and `string` take a value (`--name V` or `--name=V`), `flag` none;
 * `options` takes a value that may itself start with a dash (other programs' options: `--ttt "--pace"`);
 * `link` takes a lab link as RATE,DELAY[,QUEUE] (parseLinkOption).
 */
export type BenchOptionSpec = Record<string, 'number' | 'string' | 'options' | 'flag' | 'link'>

/** A lab link from the command line: its rate, one-way delay and droptail queue (a test/lab LinkConfig). */
export interface LinkOption { rateMbit: number, delayMs: number, queuePkts: number }

export interface BenchArgs {
  number: (name: string, fallback: number) => number
  link: (name: string, fallback: LinkOption) => LinkOption
  string: <T extends string | undefined>(name: string, fallback: T) => string | T
  flag: (name: string) => boolean
}

/** An option's value that cannot be used; the message says what to fix. */
export class BenchUsageError extends Error {}

/** Parses `argv` against `spec`; throws BenchUsageError on anything it does not know. */
export function parseBenchArgs (spec: BenchOptionSpec, argv: readonly string[]): BenchArgs & { help: boolean } {
  const options: Record<string, { type: 'string' | 'boolean', short?: string }> = { help: { type: 'boolean', short: 'h' } }
  for (const [name, kind] of Object.entries(spec)) options[name] = { type: kind === 'flag' ? 'boolean' : 'string' }
  // parseArgs refuses a value that starts with a dash unless it is written `--name=VALUE`.
  const joined: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const name = argv[i]!.slice(2)
    if (argv[i]!.startsWith('--') && spec[name] === 'options' && i + 1 < argv.length) joined.push(`--${name}=${argv[++i]!}`)
    else joined.push(argv[i]!)
  }
  let values: Record<string, string | boolean | undefined>
  try {
    values = parseArgs({ args: joined, options, strict: true, allowPositionals: false }).values
  } catch (error) {
    throw new BenchUsageError((error as Error).message)
  }
  return {
    help: values.help === true,
    number: (name, fallback) => {
      const text = values[name]
      if (typeof text !== 'string') return fallback
      const n = Number(text)
      if (text.trim() === '' || !Number.isFinite(n) || n < 0) throw new BenchUsageError(`--${name} takes a number >= 0 (got "${text}")`)
      return n
    },
    link: (name, fallback) => {
      const text = values[name]
      return typeof text === 'string' ? parseLinkOption(name, text, fallback.queuePkts) : fallback
    },
    string: (name, fallback) => typeof values[name] === 'string' ? values[name] : fallback,
    flag: (name) => values[name] === true,
  }
}

/**
 * `--NAME RATE,DELAY[,QUEUE]`: RATE in Mbit/s (`20` or `20mbit`), DELAY one-way in ms (`10` or `10ms`),
 * QUEUE in packets (a whole number, default `queuePkts`).
 */
export function parseLinkOption (name: string, text: string, queuePkts: number): LinkOption {
  const m = /^(\d+(?:\.\d+)?)(?:mbit)?,(\d+(?:\.\d+)?)(?:ms)?(?:,(\d+))?$/i.exec(text.trim())
  const link = m === null ? undefined : { rateMbit: Number(m[1]), delayMs: Number(m[2]), queuePkts: m[3] === undefined ? queuePkts : Number(m[3]) }
  if (link === undefined || link.rateMbit <= 0 || link.queuePkts < 1) {
    throw new BenchUsageError(`--${name} takes RATE,DELAY[,QUEUE]: Mbit/s > 0, one-way ms, packets >= 1, e.g. 20mbit,10ms or 20mbit,10ms,100 (got "${text}")`)
  }
  return link
}

/**
 * parseBenchArgs for a benchmark's main: prints `usage` and exits 0 on --help, prints the problem and
 * the usage and exits 2 on a bad option. A number or link option that is read later and is bad exits the same way.
 */
export function benchArgs (usage: string, spec: BenchOptionSpec, argv: readonly string[] = process.argv.slice(2)): BenchArgs {
  const fail = (error: unknown): never => {
    if (!(error instanceof BenchUsageError)) throw error
    console.error(`${error.message}\nusage: ${usage}`)
    process.exit(2)
  }
  let parsed: ReturnType<typeof parseBenchArgs>
  try { parsed = parseBenchArgs(spec, argv) } catch (error) { return fail(error) }
  if (parsed.help) { console.log(`usage: ${usage}`); process.exit(0) }
  return {
    number: (name, fallback) => { try { return parsed.number(name, fallback) } catch (error) { return fail(error) } },
    link: (name, fallback) => { try { return parsed.link(name, fallback) } catch (error) { return fail(error) } },
    string: parsed.string,
    flag: parsed.flag,
  }
}
