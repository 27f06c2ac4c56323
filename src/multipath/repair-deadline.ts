/**
 * Whether a repair can still fill its hole. The receiver holds a hole from about the time the
 * unit was due (`plannedArrivalMs`: units sent after it on faster paths arrive then and open the
 * hole) for its hold time, then skips it; a repair arriving after that is dropped as late, and
 * the inner flow retransmits the segment itself. Such repairs only lengthen the repair path's
 * queue: in the simulator's cut-busy run (l2 cut while busy) the 150 units l2 handed back when
 * it went degraded and down had either arrived already (their feedback was lost with the cut) or
 * came after their holes were skipped (the repairs of all 94 skipped holes came late), and the queue they made on l1 refused the inner flow's own retransmission (an RTO, a 317 ms
 * stall). `holdMs` is the receiver's hold as the sender knows it (its own reorder buffer's, which
 * measures the same paths' delay spread in the other direction). An unknown plan (NaN) or hold
 * says nothing: repair.
 */
export function isRepairInTime (plannedArrivalMs: number, repairArrivalMs: number, holdMs: number): boolean {
  return !(repairArrivalMs > plannedArrivalMs + holdMs)
}
