/**
 * The relays compared by the pipe benchmark, each started as real processes on loopback in front
 * of one target port: direct (none), socat (TCP-LISTEN fork -> TCP), stunnel4 (a client and a
 * server instance, TLS 1.3, a self-signed ECDSA P-256 certificate made with openssl at run time)
 * and gst (gst-client -> gst-server, the built binaries).
 */
import { execFileSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync, chmodSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { spawnChild, stopChild, freePort, waitForPort, type Child } from './processes.js'

export type ToolName = 'direct' | 'socat' | 'stunnel4' | 'gst'
export const TOOLS: readonly ToolName[] = ['direct', 'socat', 'stunnel4', 'gst']

export interface Relay {
  tool: ToolName
  /** Where clients connect. */
  entryPort: number
  /** The relay's own processes (whose CPU time and memory we report). */
  processes: Child[]
  stop(): Promise<void>
}

export interface RelayOptions {
  /** Extra node flags for the gst processes (e.g. --cpu-prof). */
  gstNodeArgs?: string[]
  /** Extra gst flags for both binaries (e.g. --window 4m). */
  gstArgs?: string[]
}

const distDir = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const gstBin = (name: string): string => join(distDir, 'cmd', `${name}.js`)

function hasCommand (command: string): boolean {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' })
    return true
  } catch {
    return false
  }
}

/** Why a tool can't run here, or undefined when it can. */
export function missingReason (tool: ToolName): string | undefined {
  if (tool === 'socat' && !hasCommand('socat')) return 'not installed'
  if (tool === 'stunnel4' && !hasCommand('stunnel4')) return 'not installed'
  if (tool === 'stunnel4' && !hasCommand('openssl')) return 'openssl not installed'
  return undefined
}

let workDir: string | undefined
/** One temp dir per run for keys, certificates and configs; removed on exit. */
function tempDir (): string {
  if (workDir === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'gst-bench-'))
    workDir = dir
    process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  }
  return workDir
}

export async function startRelay (tool: ToolName, targetPort: number, options: RelayOptions = {}): Promise<Relay> {
  switch (tool) {
    case 'direct': return { tool, entryPort: targetPort, processes: [], stop: async () => {} }
    case 'socat': return await startSocat(targetPort)
    case 'stunnel4': return await startStunnel(targetPort)
    case 'gst': return await startGst(targetPort, options.gstNodeArgs ?? [], options.gstArgs ?? [])
  }
}

function relayOf (tool: ToolName, entryPort: number, processes: Child[]): Relay {
  return { tool, entryPort, processes, stop: async () => { await Promise.all(processes.map(async (p) => await stopChild(p))) } }
}

async function startSocat (targetPort: number): Promise<Relay> {
  const port = await freePort()
  const child = spawnChild('socat', 'socat', ['-b', '131072', `TCP-LISTEN:${port},bind=127.0.0.1,reuseaddr,fork,backlog=4096`, `TCP:127.0.0.1:${targetPort}`])
  await waitForPort(port, 5000, child)
  return relayOf('socat', port, [child])
}

let certificate: { cert: string, key: string } | undefined
function makeCertificate (): { cert: string, key: string } {
  if (certificate !== undefined) return certificate
  const dir = tempDir()
  const cert = join(dir, 'stunnel-cert.pem')
  const key = join(dir, 'stunnel-key.pem')
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', '/CN=localhost'], { stdio: 'ignore' })
  certificate = { cert, key }
  return certificate
}

async function startStunnel (targetPort: number): Promise<Relay> {
  const { cert, key } = makeCertificate()
  const dir = tempDir()
  const [serverPort, clientPort] = [await freePort(), await freePort()]
  const common = ['foreground = yes', 'pid =', 'syslog = no', 'debug = 3', 'sslVersionMin = TLSv1.3', 'sslVersionMax = TLSv1.3']
  const serverConf = join(dir, `stunnel-server-${serverPort}.conf`)
  writeFileSync(serverConf, [...common, '[bench]', `accept = 127.0.0.1:${serverPort}`, `connect = 127.0.0.1:${targetPort}`, `cert = ${cert}`, `key = ${key}`, ''].join('\n'))
  const clientConf = join(dir, `stunnel-client-${clientPort}.conf`)
  writeFileSync(clientConf, [...common, '[bench]', 'client = yes', `accept = 127.0.0.1:${clientPort}`, `connect = 127.0.0.1:${serverPort}`,
    'verifyPeer = yes', `CAfile = ${cert}`, ''].join('\n'))
  const server = spawnChild('stunnel4 server', 'stunnel4', [serverConf])
  const client = spawnChild('stunnel4 client', 'stunnel4', [clientConf])
  await waitForPort(serverPort, 5000, server)
  await waitForPort(clientPort, 5000, client)
  return relayOf('stunnel4', clientPort, [client, server])
}

let keyFile: string | undefined
function makeKey (): string {
  if (keyFile !== undefined) return keyFile
  const file = join(tempDir(), 'gst.key')
  const key = execFileSync(process.execPath, [gstBin('gst'), 'keygen'], { encoding: 'utf8' })
  writeFileSync(file, key, { mode: 0o600 })
  chmodSync(file, 0o600)
  keyFile = file
  return file
}

async function startGst (targetPort: number, nodeArgs: string[], gstArgs: string[]): Promise<Relay> {
  const key = `@${makeKey()}`
  const [serverPort, clientPort] = [await freePort(), await freePort()]
  const server = spawnChild('gst-server', process.execPath, [...nodeArgs, gstBin('gst-server'), `127.0.0.1:${serverPort}`, `127.0.0.1:${targetPort}`, key, '--log-level', 'info', ...gstArgs])
  await waitForPort(serverPort, 10_000, server)
  const client = spawnChild('gst-client', process.execPath, [...nodeArgs, gstBin('gst-client'), `127.0.0.1:${clientPort}`, `127.0.0.1:${serverPort}`, key, '--log-level', 'info', ...gstArgs])
  await client.waitForStderr(/ up\b/, 10_000)
  // Listening is logged before the session; the session being up is what matters.
  return relayOf('gst', clientPort, [client, server])
}
