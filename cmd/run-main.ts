/**
 * The one place that turns errors into exit codes: a mistake the user can fix prints one line and
 * exits 2; a system error (e.g. a port in use) prints its message and exits 1; anything else is a
 * bug and prints its stack.
 */
import type { CAC } from 'cac'
import { UsageError } from '../src/errors.js'
import { writeFatalAsJson } from './logger.js'

export function runMain (program: string, main: () => Promise<void>): void {
  // `gst bench | head`: a reader that went away is not an error worth a stack trace.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0)
    throw err
  })
  main().catch((err: unknown) => {
    const error = err instanceof Error ? err : new Error(String(err))
    // With --log-format json (once its logger exists), the last words are a JSON line too.
    const report = (message: string): void => {
      if (!writeFatalAsJson(message)) process.stderr.write(`${program}: ${message}\n`)
    }
    if (error instanceof UsageError || error.name === 'CACError') {
      const hint = error.name === 'CACError' ? ` (see \`${program} --help\`)` : ''
      report(`${error.message}${hint}`)
      process.exitCode = 2
    } else if (error.name === 'NativeError' || (typeof (error as NodeJS.ErrnoException).code === 'string' && (error as NodeJS.ErrnoException).syscall !== undefined)) {
      report(error.message)
      process.exitCode = 1
    } else {
      report(`unexpected error: ${error.stack ?? error.message}`)
      process.exitCode = 1
    }
  })
}

/**
 * Parses argv with a cac instance of subcommands and runs the matched one. No subcommand: the
 * help, with exit 0 when nothing was given and 2 when what was given matched nothing.
 */
export async function runSubcommand (cli: CAC, argv: string[], argsGiven = argv.length > 2): Promise<void> {
  cli.parse(argv, { run: false })
  if (cli.options.help || cli.options.version) return
  if (cli.matchedCommand === undefined) {
    cli.outputHelp()
    process.exitCode = argsGiven ? 2 : 0
    return
  }
  await cli.runMatchedCommand()
}

/**
 * Ends a daemon once its clean shutdown is done (sockets closed, control socket removed, last log
 * line written: stderr is synchronous). Not left to the event loop running dry: Node 20 was seen
 * (1 run in ~10 under load) to spin forever at 100 % CPU in its exit-time handle cleanup
 * (Environment::CleanupHandles, with libuv reporting no active handle or request), so a SIGTERM'd
 * gst-server never exited and CI hung until its time limit.
 */
export function exitAfterShutdown (): never {
  process.exit(typeof process.exitCode === 'number' ? process.exitCode : 0)
}
