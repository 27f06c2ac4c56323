// Every fuzz target, in the order the table lists them.
import type { FuzzTarget } from '../lib.js'
import { pipeRecordTarget } from './pipe-record.js'
import { pipeHelloTarget } from './pipe-hello.js'
import { pipeChannelTarget } from './pipe-channel.js'
import { pipeFramesTarget } from './pipe-frames.js'
import { vpnHandshakeTarget } from './vpn-handshake.js'
import { vpnSessionTarget } from './vpn-session.js'
import { vpnPeerTarget } from './vpn-peer.js'
import { vpnFeedbackTarget } from './vpn-feedback.js'
import { innerAddressTarget } from './inner-address.js'
import { flowClassTarget } from './flow-class.js'
import { pipeOptionsTarget } from './pipe-options.js'
import { tttOptionsTarget } from './ttt-options.js'
import { pipeAddressTarget } from './pipe-address.js'
import { cryptoKeyTarget } from './crypto-key.js'

export const targets: readonly FuzzTarget[] = [
  pipeRecordTarget, pipeHelloTarget, pipeChannelTarget, pipeFramesTarget,
  vpnHandshakeTarget, vpnSessionTarget, vpnPeerTarget, vpnFeedbackTarget, innerAddressTarget, flowClassTarget,
  pipeOptionsTarget, tttOptionsTarget, pipeAddressTarget, cryptoKeyTarget,
]
