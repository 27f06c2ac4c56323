/**
 * One VPN session's keys over an unreliable, reordering transport: sealing and opening datagrams
 * in place, the replay window, and key rotation by an in-session handshake that survives lost
 * and duplicated messages. Pure: time is passed in, nothing is sent from here (callers send what
 * the methods return).
 *
 * Rotation (initiator = the client, every rekeyIntervalMs):
 *   initiator: REKEY_INIT (resent every retryMs with the same message until answered)
 *   responder: installs the new keys for receiving at once, answers REKEY_REPLY (a duplicate INIT
 *              gets the cached reply), but keeps sealing with the old keys until the first
 *              datagram under the new keys arrives - so a lost reply never strands its traffic.
 *   initiator: on the reply, installs the keys and seals with them from then on.
 * Both keep the previous receiving keys for rekeyGraceMs (late packets on slow paths), then wipe them.
 */
import { HandshakeInitiator, acceptHandshake, type HandshakeSecrets } from '../crypto/handshake.js'
import type { AeadKey } from '../crypto/aead.js'
import { KeyRing, type ReceiveKey } from '../crypto/key-ring.js'
import { SEALED_HEADER_BYTES, TAG_BYTES, writeSealedHeader, readSealedCounter } from './wire.js'
import { rekeyPrologue } from './handshake.js'

export type OpenResult = 'ok' | 'decrypt' | 'replay' | 'epoch' | 'short'

export interface SessionTimings {
  rekeyIntervalMs: number
  rekeyGraceMs: number
  /** Resend an unanswered REKEY_INIT this often. */
  rekeyRetryMs: number
  /** Keys older than this (no successful rotation) are no longer used: the session is dead. */
  maxKeyAgeMs: number
}

const EMPTY = Buffer.alloc(0)

export class VpnSession {
  private readonly keys: KeyRing
  private pendingRekey: { initiator: HandshakeInitiator, message1: Buffer, lastSentMs: number } | undefined
  private lastReply: { message1: Buffer, message2: Buffer } | undefined
  private responderSwitchPending = false
  private keysSinceMs: number
  private nextRekeyMs: number
  rotations = 0
  /**
   * Called before the sending key changes or is wiped: whoever holds datagrams prepared with
   * `sealLater` seals them now, while the key they name is still there.
   */
  beforeSendKeyChange: (() => void) | undefined

  constructor (
    secrets: HandshakeSecrets,
    readonly isInitiator: boolean,
    readonly localIndex: number,
    readonly remoteIndex: number,
    private readonly psk: Uint8Array,
    private readonly timings: SessionTimings,
    nowMs: number,
  ) {
    this.keys = new KeyRing(secrets, timings.rekeyGraceMs)
    this.keysSinceMs = nowMs
    this.nextRekeyMs = nowMs + timings.rekeyIntervalMs
  }

  /** After a runtime change of timings.rekeyIntervalMs: the next rotation is due that long after the last. */
  rekeyIntervalChanged (): void {
    this.nextRekeyMs = this.keysSinceMs + this.timings.rekeyIntervalMs
  }

  /** False once the keys are too old to use (rotation kept failing) or worn out. */
  isUsable (nowMs: number): boolean {
    return nowMs - this.keysSinceMs < this.timings.maxKeyAgeMs && !this.keys.isSendKeyWornOut
  }

  /**
   * Seals datagram[0, length): writes the header, encrypts [14, length - 16) in place, writes the
   * tag into the last 16 bytes. `length` includes header and tag room.
   */
  seal (datagram: Buffer, length: number): void {
    const keys = this.keys
    const counter = keys.nextSendCounter()
    writeSealedHeader(datagram, keys.sendEpoch, this.remoteIndex, counter)
    keys.sendKey.sealRange(datagram, 0, SEALED_HEADER_BYTES, length - TAG_BYTES, counter)
  }

  /**
   * Like seal, but leaves the encryption to the caller (a whole send batch in one addon call):
   * writes the header, returns the counter; the caller seals [14, length - 16) with `sendKey`
   * and that counter before the key changes (see beforeSendKeyChange).
   */
  sealLater (datagram: Buffer): number {
    const keys = this.keys
    const counter = keys.nextSendCounter()
    writeSealedHeader(datagram, keys.sendEpoch, this.remoteIndex, counter)
    return counter
  }

  /** The key sealing now (for sealLater's callers). */
  get sendKey (): AeadKey { return this.keys.sendKey }

  /** Opens datagram[0, length) in place (plaintext at [14, length - 16)) and checks for replay. */
  open (datagram: Buffer, length: number, nowMs: number): OpenResult {
    const rx = this.receiveKeyFor(datagram[1]!, length, nowMs)
    if (typeof rx === 'string') return rx
    const counter = readSealedCounter(datagram)
    if (!rx.key.openRange(datagram, 0, SEALED_HEADER_BYTES, length - TAG_BYTES, counter)) return 'decrypt'
    return this.acceptOpened(rx, counter, nowMs)
  }

  /**
   * A batched open, first half: the receiving key the datagram names, or why there is none. The
   * caller then opens it with that key (many datagrams in one addon call) and, if authentic,
   * calls acceptOpened.
   */
  receiveKeyFor (epochByte: number, length: number, nowMs: number): ReceiveKey | 'short' | 'epoch' {
    if (length < SEALED_HEADER_BYTES + 2 + TAG_BYTES) return 'short'
    return this.keys.receiveKey(epochByte, nowMs) ?? 'epoch'
  }

  /** A batched open, second half, for a datagram `rx` authenticated: the replay check, after authentication. */
  acceptOpened (rx: ReceiveKey, counter: number, nowMs: number): OpenResult {
    if (!rx.window.accept(counter)) return 'replay'
    this.keys.confirmReceive(rx, nowMs)
    if (this.responderSwitchPending && rx.epoch > this.keys.sendEpoch) {
      // The initiator uses the new keys: it has our reply, so we may seal with them too.
      this.responderSwitchPending = false
      this.beforeSendKeyChange?.()
      this.keys.switchSendKey()
      this.keysSinceMs = nowMs
    }
    return 'ok'
  }

  /** Initiator: a REKEY_INIT message to send now (a new one, or the pending one again), or null. */
  rekeyMessageDue (nowMs: number): Buffer | null {
    if (!this.isInitiator) return null
    const pending = this.pendingRekey
    if (pending !== undefined) {
      if (nowMs - pending.lastSentMs < this.timings.rekeyRetryMs) return null
      pending.lastSentMs = nowMs
      return pending.message1
    }
    if (nowMs < this.nextRekeyMs && !this.keys.isSendKeyWornOut) return null
    const initiator = new HandshakeInitiator(this.psk, rekeyPrologue(this.keys.handshakeHash), EMPTY)
    this.pendingRekey = { initiator, message1: initiator.message1, lastSentMs: nowMs }
    return initiator.message1
  }

  /** Responder: the REKEY_REPLY to send for a REKEY_INIT, or null if it does not authenticate. */
  onRekeyInit (message1: Buffer): Buffer | null {
    if (this.isInitiator) return null
    if (this.lastReply !== undefined && this.lastReply.message1.equals(message1)) return this.lastReply.message2
    const response = acceptHandshake([this.psk], rekeyPrologue(this.keys.handshakeHash), message1)
    if (response === null) return null
    const { message2, secrets } = response.reply(EMPTY)
    this.install(secrets)
    this.responderSwitchPending = true
    this.lastReply = { message1: Buffer.from(message1), message2 }
    return message2
  }

  /** Initiator: completes a rotation; false for a stale, duplicate or forged reply. */
  onRekeyReply (message2: Buffer, nowMs: number): boolean {
    const pending = this.pendingRekey
    if (pending === undefined) return false
    const done = pending.initiator.finish(message2)
    if (done === null) return false
    this.pendingRekey = undefined
    this.install(done.secrets)
    this.beforeSendKeyChange?.()
    this.keys.switchSendKey()
    this.keysSinceMs = nowMs
    this.nextRekeyMs = nowMs + this.timings.rekeyIntervalMs
    return true
  }

  private install (secrets: HandshakeSecrets): void {
    this.keys.installNext(secrets)
    this.rotations++
  }

  /** Wipes receiving keys past their grace time. */
  sweep (nowMs: number): void {
    this.keys.sweep(nowMs)
  }

  get sendEpoch (): number { return this.keys.sendEpoch }
  get receiveEpochs (): number[] { return this.keys.receiveEpochs }

  wipe (): void {
    this.beforeSendKeyChange?.()
    this.keys.wipe()
  }
}
