/** The logger cmd/ hands to src/: one line per event on stderr, as text or JSON. */
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

export function createLogger (level: LogLevel, format: LogFormat, write: (line: string) => void = (line) => process.stderr.write(line)): Logger {
  const min = ranks[level]
  const emit = (lvl: LogLevel, message: string): void => {
    if (ranks[lvl] < min) return
    const time = new Date().toISOString()
    write(format === 'json'
      ? JSON.stringify({ time, level: lvl, msg: message }) + '\n'
      : `${time} ${lvl.padEnd(5)} ${message}\n`)
  }
  return {
    debug: (m) => emit('debug', m),
    info: (m) => emit('info', m),
    warn: (m) => emit('warn', m),
    error: (m) => emit('error', m),
  }
}
