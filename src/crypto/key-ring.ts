/**
 * The keys of one session across rotations. Each handshake (the first, then one per rekey) adds
 * an epoch: a sending key with its own counter and a receiving key with its own replay window.
 * Records name their epoch (its low byte), so a receiver can still open late records sealed under
 * the previous keys for a grace time, after which those keys are wiped.
 *
 * Rotation order (no lost or stalled byte): the responder switches its sending key right after
 * its reply; the initiator switches when the reply arrives. Each side can open the new epoch as
 * soon as it holds the keys, and both keep the old receiving key until the grace time ends.
 */
import { AeadKey, MAX_MESSAGES_PER_KEY } from './aead.js'
import { ReplayWindow } from './replay-window.js'
import { wipeSecrets, type HandshakeSecrets } from './handshake.js'

/** Our choice: late records on a slow path may arrive up to this long after a rotation. */
export const DEFAULT_GRACE_MS = 10_000

export interface ReceiveKey {
  readonly epoch: number
  readonly key: AeadKey
  readonly window: ReplayWindow
  /** Monotonic time after which this key is wiped, once a newer epoch is in use. */
  retireAtMs: number
}

export class KeyRing {
  private txEpoch: number
  private txKey: AeadKey
  private txCounter = 0
  private pendingTx: { epoch: number, key: AeadKey } | undefined
  private readonly receiving: ReceiveKey[] = []
  /** Handshake hash of the newest epoch: rekeys are bound to it. */
  private hash: Buffer
  private epochs = 0

  constructor (secrets: HandshakeSecrets, private readonly graceMs = DEFAULT_GRACE_MS) {
    this.txEpoch = 0
    this.txKey = new AeadKey(secrets.tx)
    this.receiving.push({ epoch: 0, key: new AeadKey(secrets.rx), window: new ReplayWindow(), retireAtMs: Infinity })
    this.hash = Buffer.from(secrets.hash)
    wipeSecrets(secrets)
  }

  get sendEpoch (): number { return this.txEpoch }
  get sendKey (): AeadKey { return this.txKey }
  get handshakeHash (): Buffer { return this.hash }
  /** Completed rotations since the session started. */
  get rotations (): number { return this.epochs }

  /** The counter for the next record sent. */
  nextSendCounter (): number {
    return this.txCounter++
  }

  /** True once the sending key has been used for so many messages that it must rotate. */
  get isSendKeyWornOut (): boolean {
    return this.txCounter >= MAX_MESSAGES_PER_KEY
  }

  /**
   * Installs the keys of a completed rekey as the next epoch. They open records at once; they
   * seal records after `switchSendKey()` (immediately for the responder, on the reply for the initiator).
   */
  installNext (secrets: HandshakeSecrets): void {
    const epoch = this.newestEpoch + 1
    this.pendingTx?.key.wipe()
    this.pendingTx = { epoch, key: new AeadKey(secrets.tx) }
    this.receiving.push({ epoch, key: new AeadKey(secrets.rx), window: new ReplayWindow(), retireAtMs: Infinity })
    this.hash = Buffer.from(secrets.hash)
    wipeSecrets(secrets)
    this.epochs++
  }

  /** Starts sealing with the newest installed keys; the old sending key is wiped at once. */
  switchSendKey (): void {
    if (this.pendingTx === undefined) return
    this.txKey.wipe()
    this.txKey = this.pendingTx.key
    this.txEpoch = this.pendingTx.epoch
    this.txCounter = 0
    this.pendingTx = undefined
  }

  /**
   * The receiving key for a record's epoch byte, or undefined for an unknown or wiped epoch.
   * A lookup only: the epoch byte is not authenticated yet, so it changes nothing (see confirmReceive).
   */
  receiveKey (epochByte: number, nowMs: number): ReceiveKey | undefined {
    for (let i = this.receiving.length - 1; i >= 0; i--) {
      const rx = this.receiving[i]!
      if ((rx.epoch & 0xff) !== epochByte) continue
      return rx.retireAtMs < nowMs ? undefined : rx
    }
    return undefined
  }

  /**
   * A record under `rx` passed authentication and the replay check: the first one under a newer
   * epoch starts the grace time of the older ones. (Done here, not in receiveKey, so a forged
   * header naming the new epoch cannot cut the old keys' grace short.)
   */
  confirmReceive (rx: ReceiveKey, nowMs: number): void {
    for (const older of this.receiving) {
      if (older.epoch >= rx.epoch) break
      if (older.retireAtMs === Infinity) older.retireAtMs = nowMs + this.graceMs
    }
  }

  /** Wipes receiving keys whose grace time has ended. Call now and then (e.g. on keepalive). */
  sweep (nowMs: number): void {
    for (let i = this.receiving.length - 1; i >= 0; i--) {
      const rx = this.receiving[i]!
      if (rx.retireAtMs < nowMs) {
        rx.key.wipe()
        this.receiving.splice(i, 1)
      }
    }
  }

  /** Live receiving epochs, for tests and `show`. */
  get receiveEpochs (): number[] { return this.receiving.map((r) => r.epoch) }

  wipe (): void {
    this.txKey.wipe()
    this.pendingTx?.key.wipe()
    for (const rx of this.receiving) rx.key.wipe()
    this.receiving.length = 0
    this.hash.fill(0)
  }

  private get newestEpoch (): number {
    return this.receiving.length ? this.receiving[this.receiving.length - 1]!.epoch : this.txEpoch
  }
}
