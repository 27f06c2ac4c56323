/**
 * One TCP connection of a session, with its own SecureChannel (own handshake, keys and counters:
 * no nonce is shared between subflows). It acknowledges what it receives (ACK: the count of
 * ack-eliciting frames, sent on this same subflow), remembers what it sent until acknowledged
 * (SentLog), and measures its TCP connection (TCP_INFO) for the scheduler's Path.
 */
import { Path, type PathPreference } from '../multipath/index.js'
import { readTcpInfo, TCP_INFO_INDEX } from '../native/socket-options.js'
import type { ChannelHandler, SecureChannel } from './channel.js'
import { FrameType, OFFSET_BYTES, writeU64 } from './frame.js'
import { SentLog } from './retransmit.js'
import type { Multiplexer } from './mux.js'

/** Send an ACK after this many ack-eliciting frames, or after ACK_DELAY_MS, whichever first (our choice). */
const ACK_EVERY_FRAMES = 16
const ACK_DELAY_MS = 5
/** ACK flags (the byte after the count). */
export const ACK_FLAG_PAUSED = 1

/** How the subflow was configured (client) or learnt (server). */
export interface SubflowSpec {
  /** Client's path index (the server learns it from the join; 0 for the session's first). */
  pathId: number
  /** For logs and `show`: the local address it is bound to, or a label. */
  label: string
  preference: PathPreference
  /** Configured rate (a planning cap for the scheduler), 0 = none. */
  rateBitsPerSec: number
  weight: number
}

/** What the subflow tells its owner (the session, and the client or server that dialled it). */
export interface SubflowEvents {
  onOpen(subflow: Subflow, peerPayload: Buffer, joinKey: Buffer): void
  onFrame(subflow: Subflow, type: FrameType, streamId: number, payload: Buffer): void
  onDrain(subflow: Subflow): void
  onClose(subflow: Subflow, error: Error | undefined): void
}

export type SubflowState = 'handshake' | 'up' | 'closed'

export class Subflow implements ChannelHandler {
  channel!: SecureChannel
  /** The session this subflow carries (set when its handshake completes). */
  session: Multiplexer | undefined
  private pathState: Path | undefined
  readonly sent = new SentLog()
  state: SubflowState = 'handshake'
  /** Since when we wait for an ACK to advance (-1: nothing outstanding). */
  waitingSinceMs = -1
  /** Last time an ACK moved forward (or the subflow opened). */
  lastProgressMs = 0
  /**
   * The peer said (ACK flag) it stopped reading because its local readers are slow: no ACK will
   * come until it reads again, and that is no sign of a dead path.
   */
  peerPaused = false
  /** We stopped reading this subflow (the session's receive buffer is full); our ACKs say so. */
  readingPaused = false
  openedAtMs = 0
  private lastAckSent = 0
  private ackTimer: NodeJS.Timeout | undefined
  private readonly tcpInfo = new Float64Array(32)
  /** From the latest TCP_INFO read (show and the scheduler). */
  cwndPackets = 0
  notsentBytes = 0
  deliveryRateBitsPerSec = 0
  tcpRttMs = 0
  /**
   * When TCP last got an acknowledgement (tcpi_bytes_acked grew) or the peer's bytes last
   * arrived: signs of a live path even while our ACKs wait behind data, or a paused peer's
   * notice does.
   */
  tcpProgressMs = 0
  private tcpBytesAcked = 0
  private bytesInSeen = 0

  constructor (readonly spec: SubflowSpec, private readonly events: SubflowEvents) {}

  /**
   * The scheduler's view of this subflow. Made on first use, after the handshake: a Path keeps
   * sizeable send records, and a connection that never authenticates must cost next to nothing.
   */
  get path (): Path {
    this.pathState ??= new Path(this.spec.pathId, {
      name: this.spec.label,
      preference: this.spec.preference,
      txCapBitsPerSec: this.spec.rateBitsPerSec,
      ...(this.spec.weight > 0 ? { weight: this.spec.weight } : {}),
    })
    return this.pathState
  }

  attach (channel: SecureChannel): void {
    this.channel = channel
  }

  get label (): string { return this.spec.label }
  get isUp (): boolean { return this.state === 'up' && this.channel.isOpen }
  /** Ack-eliciting frames sent and not yet acknowledged by the peer. */
  get outstandingFrames (): number { return this.channel.stats.elicitingOut - this.sent.ackedFrames }

  // ---- ChannelHandler

  onOpen (peerPayload: Buffer, joinKey: Buffer): void {
    this.state = 'up'
    this.events.onOpen(this, peerPayload, joinKey)
  }

  onFrame (type: FrameType, streamId: number, payload: Buffer): void {
    this.events.onFrame(this, type, streamId, payload)
  }

  onEliciting (): void {
    if (this.channel.stats.elicitingIn - this.lastAckSent >= ACK_EVERY_FRAMES) {
      this.sendAck()
    } else if (this.ackTimer === undefined) {
      this.ackTimer = setTimeout(() => { this.ackTimer = undefined; this.sendAck() }, ACK_DELAY_MS)
      this.ackTimer.unref()
    }
  }

  onDrain (): void {
    this.events.onDrain(this)
  }

  onPeerClose (): void {
    this.session?.endByPeer()
  }

  onClose (error: Error | undefined): void {
    this.state = 'closed'
    clearTimeout(this.ackTimer)
    this.ackTimer = undefined
    this.events.onClose(this, error)
  }

  private sendAck (force = false): void {
    const count = this.channel.stats.elicitingIn
    if ((count === this.lastAckSent && !force) || !this.channel.isOpen) return
    this.lastAckSent = count
    const payload = Buffer.allocUnsafe(OFFSET_BYTES + 1)
    writeU64(payload, count, 0)
    payload[OFFSET_BYTES] = this.readingPaused ? ACK_FLAG_PAUSED : 0
    this.channel.sendFrame(FrameType.Ack, 0, payload)
  }

  /**
   * Stops or resumes reading this subflow (the session's receive buffer); tells the peer at once
   * with an ACK, so it does not take the silence for a dead path.
   */
  setReadingPaused (paused: boolean): void {
    if (paused === this.readingPaused) return
    this.readingPaused = paused
    if (paused) this.channel.socket.pause()
    else this.channel.socket.resume()
    this.sendAck(true)
  }

  /** Reads TCP_INFO and feeds the Path's estimators (the scheduler plans with them). */
  sample (nowMs: number): void {
    if (!this.isUp) return
    if (this.channel.stats.bytesIn > this.bytesInSeen) { this.bytesInSeen = this.channel.stats.bytesIn; this.tcpProgressMs = nowMs }
    try {
      readTcpInfo(this.channel.socket, this.tcpInfo)
    } catch {
      return // the socket is closing
    }
    const info = this.tcpInfo
    const rttMs = info[TCP_INFO_INDEX.rttUs]! / 1000
    this.tcpRttMs = rttMs
    this.cwndPackets = info[TCP_INFO_INDEX.sndCwndPkts]!
    this.notsentBytes = info[TCP_INFO_INDEX.notsentBytes]!
    this.deliveryRateBitsPerSec = info[TCP_INFO_INDEX.deliveryRateBytesPerSec]! * 8
    const acked = info[TCP_INFO_INDEX.bytesAcked]!
    if (acked > this.tcpBytesAcked) { this.tcpBytesAcked = acked; this.tcpProgressMs = nowMs }
    if (rttMs > 0) this.path.addRttSample(rttMs, nowMs)
    // What TCP can send per round trip (cwnd / rtt) is its rate even while we leave it idle;
    // the delivery rate alone would starve a path the scheduler has not used yet.
    const cwndRate = rttMs > 0 ? (this.cwndPackets * info[TCP_INFO_INDEX.sndMssBytes]! * 8000) / rttMs : 0
    const rate = Math.max(this.deliveryRateBitsPerSec, cwndRate)
    if (rate > 0) this.path.addDeliveryRateSample(rate, nowMs)
  }

  /** Bytes waiting to leave on this subflow: ours (Node's write queue) and the kernel's unsent ones. */
  queuedBytes (): number {
    return this.channel.socket.writableLength + this.notsentBytes
  }
}
