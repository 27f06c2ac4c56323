/**
 * Streams of one session: the client opens one per accepted connection, the server connects each
 * to its target. Implements the channel's handler (frames in) and the streams' link (frames out).
 */
import type { Socket } from 'node:net'
import { ProtocolError } from '../errors.js'
import type { Logger } from '../log.js'
import type { ChannelHandler, SecureChannel } from './channel.js'
import { FrameType, ResetReason } from './frame.js'
import { MuxStream, type StreamLink } from './stream.js'

export interface MuxOptions {
  /** Bytes each stream may receive before it grants more (announced in the handshake). */
  localWindowBytes: number
  /** Streams open at once in this session. */
  maxStreams: number
  /**
   * Received bytes held for slow local sockets, over all streams, before the session stops reading
   * from the network (bounds memory per session when many streams' readers are slow at once).
   */
  sessionBufferBytes: number
  log: Logger
  /** Server only: connect a new stream to the target. */
  connectTarget?: (streamId: number) => { socket: Socket, description: string }
}

export interface MuxEvents {
  onOpen(mux: Multiplexer, peerPayload: Buffer): void
  onClose(mux: Multiplexer, error: Error | undefined): void
}

export class Multiplexer implements ChannelHandler, StreamLink {
  channel!: SecureChannel
  readonly streams = new Map<number, MuxStream>()
  private readonly waitingForDrain = new Set<MuxStream>()
  private peerWindowBytes = 0
  private nextStreamId = 1
  private limitLogged = false
  private heldBytes = 0
  /** Most bytes ever held at once (for tests and `show`). */
  peakBufferedBytes = 0
  private readingPaused = false
  streamsOpened = 0

  constructor (private readonly options: MuxOptions, private readonly events: MuxEvents) {}

  attach (channel: SecureChannel): void {
    this.channel = channel
  }

  setPeerWindow (bytes: number): void {
    this.peerWindowBytes = bytes
  }

  get label (): string { return this.channel.label }

  /** Client: carries an accepted local connection as a new stream. */
  openStream (socket: Socket, description: string): MuxStream | undefined {
    if (this.streams.size >= this.options.maxStreams) {
      this.logLimit()
      socket.resetAndDestroy()
      return undefined
    }
    const id = this.nextStreamId++
    if (this.nextStreamId > 0xffffffff) this.nextStreamId = 1
    this.channel.sendFrame(FrameType.Open, id)
    return this.addStream(id, socket, description)
  }

  private addStream (id: number, socket: Socket, description: string): MuxStream {
    const stream = new MuxStream(id, socket, this, this.peerWindowBytes, this.options.localWindowBytes, description)
    this.streams.set(id, stream)
    this.streamsOpened++
    return stream
  }

  // ---- ChannelHandler

  onOpen (peerPayload: Buffer): void {
    this.events.onOpen(this, peerPayload)
  }

  onFrame (type: FrameType, streamId: number, payload: Buffer): void {
    if (type === FrameType.Open) return this.onPeerOpen(streamId)
    const stream = this.streams.get(streamId)
    // Frames for a stream we already closed are in flight by design: drop them.
    if (stream === undefined) return
    stream.onFrame(type, payload)
  }

  private onPeerOpen (streamId: number): void {
    const connect = this.options.connectTarget
    if (connect === undefined) throw new ProtocolError('the server tried to open a stream', 'malformed')
    if (this.streams.has(streamId)) throw new ProtocolError(`stream ${streamId} opened twice`, 'malformed')
    if (this.streams.size >= this.options.maxStreams) {
      this.logLimit()
      this.channel.sendFrame(FrameType.Reset, streamId, Buffer.from([ResetReason.Limit]))
      return
    }
    const { socket, description } = connect(streamId)
    this.addStream(streamId, socket, description)
  }

  onDrain (): void {
    if (this.waitingForDrain.size === 0) return
    const waiting = [...this.waitingForDrain]
    this.waitingForDrain.clear()
    for (const stream of waiting) stream.onSessionDrain()
  }

  onClose (error: Error | undefined): void {
    for (const stream of this.streams.values()) stream.abort()
    this.streams.clear()
    this.waitingForDrain.clear()
    this.events.onClose(this, error)
  }

  // ---- StreamLink

  sendFrame (type: FrameType, streamId: number, payload?: Buffer, start?: number, end?: number): boolean {
    return this.channel.sendFrame(type, streamId, payload, start, end)
  }

  get isCongested (): boolean { return this.channel.isCongested }

  waitForDrain (stream: MuxStream): void {
    this.waitingForDrain.add(stream)
  }

  streamClosed (stream: MuxStream, reason: string | undefined): void {
    this.streams.delete(stream.id)
    this.waitingForDrain.delete(stream)
    if (reason !== undefined && this.channel.isOpen) this.options.log.debug(`${this.label}: stream ${stream.id} (${stream.description}) reset: ${reason}`)
  }

  holdReceived (bytes: number): void {
    this.heldBytes += bytes
    if (this.heldBytes > this.peakBufferedBytes) this.peakBufferedBytes = this.heldBytes
    if (!this.readingPaused && this.heldBytes > this.options.sessionBufferBytes) {
      this.readingPaused = true
      this.channel.socket.pause()
    }
  }

  releaseReceived (bytes: number): void {
    this.heldBytes -= bytes
    if (this.readingPaused && this.heldBytes <= this.options.sessionBufferBytes / 2) {
      this.readingPaused = false
      this.channel.socket.resume()
    }
  }

  /** Bytes received and not yet taken by local sockets. */
  get bufferedBytes (): number { return this.heldBytes }

  protocolError (error: ProtocolError): void {
    this.channel.fail(error)
  }

  private logLimit (): void {
    if (this.limitLogged) return
    this.limitLogged = true
    this.options.log.warn(`${this.label}: stream limit of ${this.options.maxStreams} reached; new streams are refused`)
  }
}
