import type { UnitEvent } from './tunnel.js'

/** What the sim saw of one data unit (the first copy to arrive counts). */
interface UnitLife {
  bucket: number
  flowSeq: number
  path: number
  sentMs: number
  plannedMs: number
  releasedMs: number
  linkQueue: number
  arrivedMs: number
  arrivedPath: number
  arrivedAsRepair: boolean
}

/**
 * Records every data unit's send, release and first arrival (TunnelEnd.onUnit of the sending and
 * the receiving end), then explains each unit the reorder buffer had to hold: the earlier unit of
 * its flow that came after it, on which path, and how far each was from its planned arrival.
 */
export class HoldTracer {
  private readonly units = new Map<number, UnitLife>()

  private static key (bucket: number, flowSeq: number): number { return bucket * 2 ** 32 + flowSeq }

  onSender (e: UnitEvent): void {
    const key = HoldTracer.key(e.bucket, e.flowSeq)
    if (e.kind === 'sent' && !e.isRepair && !this.units.has(key)) {
      this.units.set(key, {
        bucket: e.bucket, flowSeq: e.flowSeq, path: e.path, sentMs: e.nowMs, plannedMs: e.value, releasedMs: NaN, linkQueue: NaN,
        arrivedMs: NaN, arrivedPath: -1, arrivedAsRepair: false,
      })
    } else if (e.kind === 'released' && !e.isRepair) {
      const u = this.units.get(key)
      if (u && Number.isNaN(u.releasedMs)) { u.releasedMs = e.nowMs; u.linkQueue = e.value }
    }
  }

  onReceiver (e: UnitEvent): void {
    if (e.kind !== 'arrived') return
    const u = this.units.get(HoldTracer.key(e.bucket, e.flowSeq))
    if (!u || !Number.isNaN(u.arrivedMs)) return
    u.arrivedMs = e.nowMs
    u.arrivedPath = e.path
    u.arrivedAsRepair = e.isRepair
  }

  /** One line per held unit (at most `maxLines`), then counts by cause and by time. */
  report (maxLines = 200): string[] {
    const byBucket = new Map<number, UnitLife[]>()
    for (const u of this.units.values()) {
      if (Number.isNaN(u.arrivedMs)) continue
      const list = byBucket.get(u.bucket) ?? []
      list.push(u)
      byBucket.set(u.bucket, list)
    }
    const lines: string[] = []
    const causes = new Map<string, number>()
    const bySecond = new Map<number, number>()
    let held = 0
    for (const list of byBucket.values()) {
      list.sort((a, b) => a.flowSeq - b.flowSeq)
      let latest: UnitLife | undefined
      for (const u of list) {
        if (latest && latest.arrivedMs > u.arrivedMs) {
          held++
          const cause = latest.arrivedAsRepair ? 'repair' : latest.path === u.path ? 'same path' : `l${latest.path + 1} late vs l${u.path + 1}`
          causes.set(cause, (causes.get(cause) ?? 0) + 1)
          const second = Math.floor(u.arrivedMs / 1000)
          bySecond.set(second, (bySecond.get(second) ?? 0) + 1)
          if (lines.length < maxLines) lines.push(`${(u.arrivedMs / 1000).toFixed(4)}s held ${describe(u)} | for ${describe(latest)}${latest.arrivedAsRepair ? ' (repair)' : ''}`)
        }
        if (!latest || u.arrivedMs > latest.arrivedMs) latest = u
      }
    }
    lines.push(`held (from arrivals): ${held}`)
    lines.push(`by cause: ${[...causes].map(([c, n]) => `${c} ${n}`).join(', ')}`)
    lines.push(`by second: ${[...bySecond].sort((a, b) => a[0] - b[0]).map(([s, n]) => `${s}s ${n}`).join(', ')}`)
    return lines
  }
}

function describe (u: UnitLife): string {
  const errorMs = u.arrivedMs - u.plannedMs
  return `#${u.flowSeq} l${u.path + 1} sent ${u.sentMs.toFixed(3)} rel +${(u.releasedMs - u.sentMs).toFixed(3)} q ${u.linkQueue}p ` +
    `plan ${u.plannedMs.toFixed(3)} arr ${u.arrivedMs.toFixed(3)} err ${errorMs >= 0 ? '+' : ''}${errorMs.toFixed(3)}`
}
