#!/usr/bin/env node
/** `gst`: the umbrella command. `gst pipe server|client ...` are gst-server / gst-client. */
import { cac } from 'cac'
import { runMain, runSubcommand } from './run-main.js'
import { addClientCommand, addServerCommand, keyHelp } from './pipe-cli.js'
import { controlDirHelp } from './control-options.js'

async function main (argv: string[]): Promise<void> {
  const cli = cac('gst')
  cli.command('keygen [file]', 'Print a new random 32-byte key in base64 (or write it to FILE, mode 0600)')
    .example('gst keygen > tunnel.key')
    .action(async (file?: string) => (await import('./keygen.js')).keygen(file))
  cli.command('show [name]', 'Status of a running gst instance (every instance when no NAME): sessions, paths, streams, errors')
    .option('--json', '[boolean] print JSON: one object for NAME, an array for every instance (default: false)')
    .option('--watch', '[boolean] redraw every interval, with per-path throughput over the last minute (default: false)')
    .option('--interval <seconds>', '[number] seconds between redraws with --watch (default: 1)')
    .option('--control-dir <dir>', '[dir] directory of control sockets (default: /run/gst as root, else $XDG_RUNTIME_DIR/gst or /tmp/gst-UID)')
    .example('gst show client-1080 --watch')
    .action(async (name: string | undefined, flags: Record<string, unknown>) => (await import('./show.js')).show(name, flags))
  cli.command('set <name> [...settings]', 'Change a running instance: scheduler=auto|weighted|redundant (ttt), rekey=SECONDS (clients); nothing is dropped')
    .option('--control-dir <dir>', controlDirHelp)
    .example('gst set office scheduler=redundant rekey=30')
    .action(async (name: unknown, settings: unknown[], flags: Record<string, unknown>) => (await import('./runtime-cli.js')).runSet(String(name), settings.map(String), flags))
  cli.command('path <name> <pathId> [...change]', 'Change one path of a running ttt instance: PATH_ID set up|down|backup|primary|rate=20mbit|weight=3 (PATH_ID as in show: 0 or SESSION/0)')
    .option('--control-dir <dir>', controlDirHelp)
    .example('gst path office 1 set backup rate=20mbit')
    .action(async (name: unknown, pathId: unknown, change: unknown[], flags: Record<string, unknown>) => (await import('./runtime-cli.js')).runPath(String(name), String(pathId), change.map(String), flags))
  cli.command('bench', 'Crypto benchmark on this machine: AEAD seal/open throughput for packet sizes 20 to 65536 bytes, and handshakes per second')
    .option('--seconds <seconds>', '[number] seconds per measurement (default: 0.2)')
    .option('--json', '[boolean] print JSON (default: false)')
    .example('gst bench --seconds 1')
    .action(async (flags: Record<string, unknown>) => (await import('./crypto-bench.js')).bench(flags))
  if (argv[2] === 'pipe') {
    // `gst pipe server ...` is the same command as `gst-server ...`.
    const pipe = cac('gst pipe')
    addServerCommand(pipe, 'server')
    addClientCommand(pipe, 'client')
    pipe.help((sections) => [...sections, { body: keyHelp.trim() }])
    await runSubcommand(pipe, [argv[0]!, argv[1]!, ...argv.slice(3)], true)
    return
  }
  cli.command('pipe <role>', 'Encrypted TCP pipe: `gst pipe server LISTEN TARGET KEY` or `gst pipe client LISTEN SERVER KEY`')
  cli.help()
  cli.version('0.1.0')
  await runSubcommand(cli, argv)
}

runMain('gst', () => main(process.argv))
