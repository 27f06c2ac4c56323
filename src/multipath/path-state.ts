import { DEGRADED_LOSS_RATIO, UNDEGRADED_LOSS_RATIO, UP_AFTER_REPLIES } from './constants.js'

/**
 * - `probing`: new, or answered again after being down; not yet trusted with data.
 * - `up`: answering in time; a primary path carrying data.
 * - `backup`: answering in time, but preference backup: used only when no primary is up or degraded.
 * - `degraded`: replies overdue past the RTT timeout, or heavy loss; used only if nothing is up.
 * - `down`: silent past the down timeout, reported silent by the receiver over another path, or set
 *   down by hand; never used for data, still probed.
 */
export type PathState = 'probing' | 'up' | 'degraded' | 'down' | 'backup'

/** What the transition function looks at; the path computes it from its estimators. */
export interface PathSignals {
  /** Consecutive feedbacks received since the last time the path was silent. */
  repliesInARow: number
  /** How far the oldest unanswered send is past its expected reply time (<= 0: nothing overdue). */
  overdueMs: number
  /** Overdue beyond this: degraded. */
  degradeAfterMs: number
  /** Overdue beyond this: down. */
  downAfterMs: number
  lossRatio: number
  isBackup: boolean
  isAdminDown: boolean
  /** The receiver said, over another path, that sends which should have arrived did not (Path.onSilenceReport). */
  isReportedSilent: boolean
}

/** Pure transition function of the path state machine (table-tested with a fake clock). */
export function nextPathState (state: PathState, s: PathSignals): PathState {
  if (s.isAdminDown) return 'down'
  const live: PathState = s.isBackup ? 'backup' : 'up'
  switch (state) {
    case 'down':
      return s.repliesInARow >= 1 ? (s.repliesInARow >= UP_AFTER_REPLIES ? live : 'probing') : 'down'
    case 'probing':
      if (s.overdueMs > s.downAfterMs || s.isReportedSilent) return 'down'
      return s.repliesInARow >= UP_AFTER_REPLIES ? live : 'probing'
    case 'up':
    case 'backup':
    case 'degraded': {
      if (s.overdueMs > s.downAfterMs || s.isReportedSilent) return 'down'
      if (s.overdueMs > s.degradeAfterMs || s.lossRatio > DEGRADED_LOSS_RATIO) return 'degraded'
      if (state === 'degraded' && s.lossRatio >= UNDEGRADED_LOSS_RATIO) return 'degraded'
      return live
    }
  }
}

/** Whether a state may carry data at all (the scheduler then prefers tiers). */
export function isUsableState (state: PathState): boolean {
  return state !== 'down'
}
