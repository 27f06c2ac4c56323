/**
 * Which stream ids a server has seen opened. With several subflows a stream's first frame (often
 * OPEN, but any frame opens it) can arrive after later ones, and frames of a finished stream can
 * still arrive after it closed (re-sent after a subflow was lost): a frame for an id never seen
 * opens that stream; a frame for an id seen before but no longer open is late and dropped.
 * Client ids increase from 1, so the ids seen collapse into "all below `floor`" plus a few above.
 */
export class SeenStreamIds {
  /** Every id below this has been seen. */
  private floor = 1
  private readonly above = new Set<number>()

  has (id: number): boolean {
    return id < this.floor || this.above.has(id)
  }

  add (id: number): void {
    if (this.has(id)) return
    this.above.add(id)
    while (this.above.delete(this.floor)) this.floor++
  }

  /** Ids held individually (for tests: stays small when ids come in order). */
  get sparseCount (): number { return this.above.size }
}
