export { TunDevice, type TunOptions, type TunStats } from './tun.js'
export {
  socketFd, setBufferSize, setMtuDiscover, getPathMtu, setMark, bindToDevice, setNotsentLowat, setCongestionControl, getCongestionControl, getTcpInfo, readTcpInfo,
  MTU_DISCOVERY, TCP_INFO_FIELDS, TCP_INFO_INDEX, type MtuDiscovery, type SocketLike, type TcpInfo, type TcpInfoField,
} from './socket-options.js'
export { UdpSocket, encodeAddress, decodeAddress, endpointText, decodeLocalAddress, ADDR_BYTES, ADDR_WORDS, addressWords, PEER_ADDR_BYTES, type UdpOptions } from './udp.js'
export { IO_STATS_FIELDS, type IoStats } from './io-stats.js'
export { NativeAead, isNativeAeadAvailable, nativeAeadVersion, NATIVE_AEAD_KEY_BYTES, NATIVE_AEAD_TAG_BYTES, type AeadHandle, type NativeAeadAddon } from './aead.js'
export { NativeError } from './native-error.js'
export { loadAddon, addonPath } from './addon.js'
export { keepCapabilitiesOnSetuid, limitCapabilities, CAPABILITY, type CapabilityName } from './capabilities.js'
