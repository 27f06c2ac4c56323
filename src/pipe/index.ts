export { PipeServer, type PipeServerOptions, type PipeServerStats } from './server.js'
export { PipeClient, type PipeClientOptions, type PipeClientStats } from './client.js'
export { parseHostPort, formatHostPort, type HostPort } from './address.js'
export { DEFAULT_TUNABLES, resolveTunables, type PipeTunables } from './config.js'
