/** Layout of the Float64Array the addon counts into (native/packet_io.c, enum ST_*). */
export const IO_STATS_FIELDS = [
  'readPackets', 'readBytes', 'readBatches', 'readErrors',
  'writePackets', 'writeBytes', 'writeEagain', 'writeEio', 'writeErrors',
  'lastErrno',
  // TUN offload: reads that were TCP super-packets (cut into readPackets), and glued writes.
  'readSuper', 'writeSuper',
] as const
/** Counters of one TUN device or UDP socket; write failures are counted here, never thrown. */
export type IoStats = Record<typeof IO_STATS_FIELDS[number], number>

export function readIoStats (array: Float64Array): IoStats {
  const out = {} as IoStats
  IO_STATS_FIELDS.forEach((field, i) => { out[field] = array[i] ?? 0 })
  return out
}
