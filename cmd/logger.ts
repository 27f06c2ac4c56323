/**
 * The logger cmd/ hands to src/: one line per event on stderr, as text or JSON.
 *
 * JSON lines are `{"time":"<ISO 8601>","level":"info","msg":"..."}`, one object per line, written
 * synchronously (a line is never lost when the process exits right after it). Not pino: our
 * events are few (state changes, and bad input at most one line per source per 10 s through
 * LogLimiter) and carry their details in the message, so pino's asynchronous writer, child
 * loggers and serializers would buy nothing measurable for 13 more packages; measured on this
 * machine, a line costs about 5 µs of CPU here against 7.5 µs through pino with a synchronous
 * sonic-boom (see the ops report of issue 7).
 */
import type { Logger, LogLevel } from '../src/log.js'
import { UsageError } from '../src/errors.js'

const ranks: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 }

export type LogFormat = 'text' | 'json'

export function parseLogLevel (text: unknown): LogLevel {
  const value = String(text ?? 'info')
  if (value in ranks) return value as LogLevel
  throw new UsageError(`--log-level must be one of debug, info, warn, error (got "${value}")`)
}

export function parseLogFormat (text: unknown): LogFormat {
  const value = String(text ?? 'text')
  if (value === 'text' || value === 'json') return value
  throw new UsageError(`--log-format must be text or json (got "${value}")`)
}

/** One log line (with its newline). */
export function formatLine (format: LogFormat, level: LogLevel, message: string, time = new Date()): string {
  const iso = time.toISOString()
  return format === 'json'
    ? JSON.stringify({ time: iso, level, msg: message }) + '\n'
    : `${iso} ${level.padEnd(5)} ${message}\n`
}

/**
 * Set once a JSON logger exists, so that an error ending the process (run-main.ts) is one more
 * JSON line rather than the only line of plain text in a JSON log.
 */
let jsonFatalWriter: ((line: string) => void) | undefined

/** Writes `message` as a JSON error line when a JSON logger was made; false when none was. */
export function writeFatalAsJson (message: string): boolean {
  if (jsonFatalWriter === undefined) return false
  jsonFatalWriter(formatLine('json', 'error', message))
  return true
}

export function createLogger (level: LogLevel, format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const min = ranks[level]
  if (format === 'json') jsonFatalWriter = write
  const emit = (lvl: LogLevel, message: string): void => {
    if (ranks[lvl] < min) return
    write(formatLine(format, lvl, message))
  }
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  }
}
