/**
 * Errors a user can act on. `cmd/` prints their message as one line and exits non-zero;
 * anything else is a bug and gets a stack trace.
 */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** A peer broke the protocol: the session (never the process) is dropped. */
export class ProtocolError extends Error {
  override name = 'ProtocolError'
  constructor (message: string, readonly kind: ErrorKind = 'malformed') {
    super(message)
  }
}

/** Per-packet failure kinds, counted and shown by `show`, never thrown past a session. */
export type ErrorKind = 'decrypt' | 'replay' | 'handshake' | 'malformed' | 'oversized' | 'limit'
