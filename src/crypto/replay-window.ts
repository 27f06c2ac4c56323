/**
 * Sliding replay window (RFC 6479): a ring of 32-bit blocks; a counter is accepted once, and only
 * if it is newer than the newest seen minus the window size. Check it after authentication only,
 * so forged packets cannot move the window.
 */

/** Our choice: 512 blocks = 16352 counters, enough for 100 Mbit/s across a 200 ms path skew twice over. */
const RING_BLOCKS = 512
const BLOCK_BITS = 32
export const REPLAY_WINDOW_SIZE = (RING_BLOCKS - 1) * BLOCK_BITS

export class ReplayWindow {
  private readonly ring = new Uint32Array(RING_BLOCKS)
  /** Highest counter accepted so far, -1 before the first. */
  private newest = -1

  /** Accepts `counter` (marking it seen) or returns false for a replay or a counter too old to tell. */
  accept (counter: number): boolean {
    if (!Number.isSafeInteger(counter) || counter < 0) return false
    const block = Math.floor(counter / BLOCK_BITS)
    if (counter > this.newest) {
      const newestBlock = Math.floor(this.newest / BLOCK_BITS)
      // Clear the blocks the window slides over (at most the whole ring).
      const advance = Math.min(block - newestBlock, RING_BLOCKS)
      for (let i = 1; i <= advance; i++) this.ring[(newestBlock + i) % RING_BLOCKS] = 0
      this.newest = counter
    } else if (this.newest - counter >= REPLAY_WINDOW_SIZE) {
      return false
    }
    const index = block % RING_BLOCKS
    const bit = 1 << (counter % BLOCK_BITS)
    if ((this.ring[index]! & bit) !== 0) return false
    this.ring[index] = this.ring[index]! | bit
    return true
  }

  reset (): void {
    this.ring.fill(0)
    this.newest = -1
  }
}
