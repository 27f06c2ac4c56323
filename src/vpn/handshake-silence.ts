/**
 * When to tell the operator that handshakes go unanswered. A server answers nothing to a key it
 * does not know (WireGuard does the same), so a wrong key, a server that is down and a blocked UDP
 * port all look alike from the client: silence. The first line comes after a few seconds, then
 * at doubling intervals (capped), so a long outage costs a handful of lines. Pure: time passed in.
 */
export const FIRST_REPORT_MS = 5_000
export const MAX_REPORT_INTERVAL_MS = 300_000

export interface SilenceReport {
  /** Handshakes sent since the last answer (or since the start). */
  unanswered: number
  /** Since the first of them. */
  silentMs: number
  /** Whether the server ever answered: it went silent, rather than never answered. */
  answeredBefore: boolean
}

export class HandshakeSilence {
  private sinceMs = NaN
  private unanswered = 0
  private nextReportMs = NaN
  private answeredBefore = false

  /** A handshake went out; returns a report when it is time to log one. */
  noteSent (nowMs: number): SilenceReport | undefined {
    if (this.unanswered++ === 0) {
      this.sinceMs = nowMs
      this.nextReportMs = nowMs + FIRST_REPORT_MS
    }
    if (nowMs < this.nextReportMs) return undefined
    const silentMs = nowMs - this.sinceMs
    this.nextReportMs = nowMs + Math.min(Math.max(silentMs, FIRST_REPORT_MS), MAX_REPORT_INTERVAL_MS)
    return { unanswered: this.unanswered, silentMs, answeredBefore: this.answeredBefore }
  }

  /** The server answered (a session is up, or a cookie reply under load); returns how long the silence lasted, if it was reported. */
  noteAnswered (nowMs: number): number | undefined {
    const reported = this.unanswered > 0 && nowMs - this.sinceMs >= FIRST_REPORT_MS ? nowMs - this.sinceMs : undefined
    this.unanswered = 0
    this.answeredBefore = true
    return reported
  }
}
