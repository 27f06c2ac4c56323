/**
 * Joining a subflow to an existing session (docs/PROTOCOL.md, "Subflows").
 *
 * The first subflow's handshake yields a join key that only the two ends know (it is derived
 * from that handshake's split keys, which come from the ephemeral DH; it never travels). A later
 * subflow's HELLO carries a proof: a keyed BLAKE2b of the session id, the path id, the hello's
 * timestamp and the joining handshake's own ephemeral public key. Anyone holding the pre-shared
 * key (many clients may share one) can read a HELLO, but cannot make a proof for another
 * handshake without the join key, nor reuse one: it names this handshake's ephemeral key, which
 * only its true sender can finish, and its timestamp, which the server's per-path replay check
 * accepts once.
 */
import sodium from 'sodium-native'
import { isNewerTimestamp } from '../crypto/tai64n.js'
import { JOIN_PROOF_BYTES } from './hello.js'

export const JOIN_KEY_BYTES = 32
const JOIN_KEY_CONTEXT = Buffer.from('gst pipe v2 join key')
const JOIN_PROOF_CONTEXT = Buffer.from('gst pipe v2 join proof')

/**
 * The session's join key from its first handshake: BLAKE2b-256 keyed with both directions' keys
 * (client→server ‖ server→client, so both ends use the same order) over a context and the hash.
 */
export function deriveJoinKey (clientToServer: Uint8Array, serverToClient: Uint8Array, handshakeHash: Uint8Array): Buffer {
  const key = Buffer.alloc(clientToServer.length + serverToClient.length)
  key.set(clientToServer, 0)
  key.set(serverToClient, clientToServer.length)
  const out = Buffer.alloc(JOIN_KEY_BYTES)
  sodium.crypto_generichash(out, Buffer.concat([JOIN_KEY_CONTEXT, handshakeHash]), key)
  sodium.sodium_memzero(key)
  return out
}

/** The proof a joining subflow's HELLO carries. */
export function joinProof (joinKey: Uint8Array, sessionId: Uint8Array, pathId: number, timestamp: Uint8Array, ephemeralPublicKey: Uint8Array): Buffer {
  const out = Buffer.alloc(JOIN_PROOF_BYTES)
  const input = Buffer.concat([JOIN_PROOF_CONTEXT, sessionId, Buffer.from([pathId]), timestamp, ephemeralPublicKey])
  sodium.crypto_generichash(out, input, joinKey)
  return out
}

/** Constant-time check of a received proof. */
export function isValidJoinProof (joinKey: Uint8Array, sessionId: Uint8Array, pathId: number, timestamp: Uint8Array, ephemeralPublicKey: Uint8Array, proof: Uint8Array): boolean {
  if (proof.length !== JOIN_PROOF_BYTES) return false
  const expected = joinProof(joinKey, sessionId, pathId, timestamp, ephemeralPublicKey)
  return sodium.sodium_memcmp(expected, proof)
}

/**
 * Per session: each path's joins must carry strictly increasing timestamps, so a captured join
 * is refused when sent again. Per path, not per session: a client dials its paths at once and
 * their hellos may arrive in any order. At most 256 paths.
 */
export class JoinReplayGuard {
  private readonly lastByPath = new Map<number, Buffer>()

  /** Records and accepts the timestamp if it is newer than the last join on this path. */
  accept (pathId: number, timestamp: Uint8Array, firstTimestamp: Uint8Array): boolean {
    const last = this.lastByPath.get(pathId) ?? firstTimestamp
    if (!isNewerTimestamp(timestamp, last)) return false
    this.lastByPath.set(pathId, Buffer.from(timestamp))
    return true
  }
}
