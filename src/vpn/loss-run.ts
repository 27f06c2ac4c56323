/**
 * Whether a feedback's nacks look like a drop-tail overflow or like random loss. The multipath
 * core abandons a feedback's losses (tells the receiver not to wait for them, so the inner TCP
 * sees them) when it carries two nacks or more while the path's queue is near the largest seen.
 * On a path that `auto` keeps at its queue budget the queue is always near that largest, and a
 * path with random loss nacks two packets in one feedback every so often (a repeated nack of one
 * already being repaired counts too): in the lab (5 % loss on l2, CUBIC) every hole the receiver
 * skipped on l2 in the flow's first seconds was such a loss, abandoned, a window cut for CUBIC.
 * A full queue drops a run: the packets of a burst that arrive while it is full, one after the
 * other. Random loss drops one here and one there. So an overflow verdict stands only when the
 * nacks hold a run of consecutive path sequences; otherwise the losses are repaired.
 * Pure.
 */

/** Whether nacks[0, count) hold two consecutive path sequences (in any order). */
export function hasLossRun (nacks: readonly number[], count: number): boolean {
  for (let i = 0; i < count; i++) {
    const seq = nacks[i]!
    for (let j = 0; j < count; j++) if (nacks[j] === seq + 1) return true
  }
  return false
}

/**
 * The units the core judged overflow (`abandoned`) go to `lost` (to be repaired) when nacks[0,
 * count) hold no run; returns how many moved.
 */
export function repairLoneLosses (nacks: readonly number[], count: number, abandoned: number[], lost: number[]): number {
  const n = abandoned.length
  if (n === 0 || hasLossRun(nacks, count)) return 0
  for (let i = 0; i < n; i++) lost.push(abandoned[i]!)
  abandoned.length = 0
  return n
}
