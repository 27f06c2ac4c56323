/**
 * `--user NAME [--group NAME]`: started as root, run as NAME once everything that needs root is
 * open. The caller opens the TUN, sets its addresses, routes and MTU, binds every listening
 * socket, the control socket and the metrics listener, reads the key and config files, and only
 * then calls dropPrivileges; from there on the process is NAME (uid, gid and supplementary
 * groups), so a flaw in packet or control handling gives an attacker NAME, not root.
 *
 * What still needs privileges afterwards, and how each is handled:
 * - ttt sets its TUN's MTU from path MTU discovery at any time (SIOCSIFMTU: CAP_NET_ADMIN). ttt
 *   keeps CAP_NET_ADMIN, and only it, through the switch (native/caps.c: keep-caps flag, then
 *   capset); with a fixed --mtu nothing changes the MTU at runtime and ttt keeps nothing. No
 *   capability is inheritable or ambient, so --on-event scripts run as NAME with none.
 * - The pipe needs nothing afterwards: new connections to TARGET/SERVER use ephemeral ports.
 * - Runtime changes (`gst set`, `gst path`) change in-memory settings only; none binds a socket.
 * - The control socket stays usable: root (the operator of a root-started instance) can always
 *   connect, and the socket is chowned to NAME so that NAME can too when the directory lets it.
 *   The dropped process removes its socket at exit only if it may write the directory (the
 *   systemd units' /run/gst is the service user's); otherwise the socket is left behind and the
 *   next start of that name or `gst show` removes it, as for a killed instance.
 */
import { execFile } from 'node:child_process'
import { chownSync } from 'node:fs'
import { UsageError } from '../src/errors.js'
import type { Logger } from '../src/log.js'
import type { CapabilityName } from '../src/native/capabilities.js'

export interface PrivilegeFlags {
  user?: unknown
  group?: unknown
}

export const privilegeHelp = {
  user: '[name] drop root: run as this user (and its groups) once the sockets (and the TUN for ttt) are set up, e.g. nobody (default: keep running as started)',
  group: '[name] with --user: run with this group instead of the user\'s own (default: the user\'s primary group)',
} as const

/** An entry of the user or group database, as `getent` prints it. */
export interface Account { name: string, id: number, gid: number }

/** `name:password:uid:gid:gecos:home:shell` → the name, uid and primary gid, or undefined. */
export function parsePasswdLine (line: string): Account | undefined {
  const fields = line.trim().split(':')
  if (fields.length < 7 || fields[0] === '') return undefined
  const id = Number(fields[2])
  const gid = Number(fields[3])
  if (!Number.isInteger(id) || !Number.isInteger(gid) || id < 0 || gid < 0) return undefined
  return { name: fields[0]!, id, gid }
}

/** `name:password:gid:members` → the name and gid, or undefined. */
export function parseGroupLine (line: string): Account | undefined {
  const fields = line.trim().split(':')
  if (fields.length < 3 || fields[0] === '') return undefined
  const gid = Number(fields[2])
  if (!Number.isInteger(gid) || gid < 0) return undefined
  return { name: fields[0]!, id: gid, gid }
}

/**
 * Looks NAME (or a number) up with getent, so users from NSS (LDAP, systemd's dynamic users)
 * count like those of /etc/passwd. Undefined when there is no such entry.
 */
async function getent (database: 'passwd' | 'group', key: string): Promise<string | undefined> {
  return await new Promise((resolve, reject) => {
    execFile('getent', [database, key], { timeout: 10_000 }, (err, stdout) => {
      if (err === null) return resolve(stdout.split('\n')[0])
      // getent exits 2 when the key is not found.
      if (typeof err.code === 'number' && err.code === 2) return resolve(undefined)
      reject(new UsageError(`couldn't look up ${database === 'passwd' ? 'user' : 'group'} "${key}" (getent: ${err.message.split('\n')[0]})`))
    })
  })
}

/** Whom to become: checked before anything is opened. */
export interface DropPlan {
  user: string
  uid: number
  group: string
  gid: number
}

function flagText (value: unknown, flag: string): string {
  if (typeof value !== 'string' && typeof value !== 'number') throw new UsageError(`${flag} takes one user or group name`)
  const text = String(value)
  if (text === '' || text.includes(':') || text.includes('\n')) throw new UsageError(`${flag} takes a user or group name or number (got "${text}")`)
  return text
}

/**
 * Checks --user/--group before the instance opens anything: the names must exist, the user must
 * not be root, and we must be root to switch. Returns undefined without --user.
 */
export async function planPrivilegeDrop (flags: PrivilegeFlags, program: string): Promise<DropPlan | undefined> {
  if (flags.user === undefined) {
    if (flags.group !== undefined) throw new UsageError('--group needs --user (it names the group to run with after dropping root)')
    return undefined
  }
  const userName = flagText(flags.user, '--user')
  const euid = process.geteuid?.()
  if (euid !== 0) {
    throw new UsageError(`--user ${userName} needs root: ${program} runs as uid ${euid ?? '?'}, which cannot switch users (start it as root, or leave --user out)`)
  }
  const account = parsePasswdLine(await getent('passwd', userName) ?? '')
  if (account === undefined) throw new UsageError(`--user ${userName}: no such user`)
  if (account.id === 0) throw new UsageError(`--user ${userName} is root (uid 0): name an unprivileged user such as nobody`)
  let group = { name: String(account.gid), gid: account.gid }
  const groupKey = flags.group !== undefined ? flagText(flags.group, '--group') : String(account.gid)
  const groupEntry = parseGroupLine(await getent('group', groupKey) ?? '')
  if (groupEntry !== undefined) group = { name: groupEntry.name, gid: groupEntry.gid }
  else if (flags.group !== undefined) throw new UsageError(`--group ${groupKey}: no such group`)
  if (group.gid === 0) {
    throw new UsageError(flags.group !== undefined
      ? `--group ${group.name} is root's group (gid 0): name an unprivileged group, or leave --group out`
      : `--user ${account.name}: its primary group ${group.name} is root's (gid 0): add --group with an unprivileged group`)
  }
  return { user: account.name, uid: account.id, group: group.name, gid: group.gid }
}

/**
 * Hands the control socket to the user we are about to become (owner and group), so that user
 * may use it too; the operator (root) always can.
 */
export function giveControlSocket (plan: DropPlan, socketPath: string | undefined): void {
  if (socketPath !== undefined) chownSync(socketPath, plan.uid, plan.gid)
}

/**
 * Becomes plan.user: supplementary groups (the user's, plus plan.group), gid, then uid, keeping
 * `keep` (and no other capability) effective. Then checks that root cannot be regained, and logs
 * one line. Throws if any step fails: the caller stops the instance rather than run as root by
 * mistake.
 */
export async function dropPrivileges (plan: DropPlan, keep: readonly CapabilityName[], log: Logger): Promise<void> {
  const caps = keep.length > 0 ? await import('../src/native/capabilities.js') : undefined
  // POSIX-only members of process (absent from @types/node: initgroups).
  const posix = process as unknown as { initgroups: (user: string, extraGroup: number) => void, setgid: (id: number) => void, setuid: (id: number) => void }
  try {
    caps?.keepCapabilitiesOnSetuid(true)
    posix.initgroups(plan.user, plan.gid)
    posix.setgid(plan.gid)
    posix.setuid(plan.uid)
    if (caps !== undefined) {
      caps.limitCapabilities(keep)
      caps.keepCapabilitiesOnSetuid(false)
    }
  } catch (err) {
    throw new UsageError(`--user ${plan.user}: couldn't switch to uid ${plan.uid} gid ${plan.gid}: ${(err as Error).message}`)
  }
  if (process.getuid!() !== plan.uid || process.geteuid!() !== plan.uid || process.getgid!() !== plan.gid || process.getegid!() !== plan.gid) {
    throw new UsageError(`--user ${plan.user}: the switch to uid ${plan.uid} gid ${plan.gid} did not take`)
  }
  let regained = false
  try {
    posix.setuid(0)
    regained = true
  } catch {
    // EPERM: as it must be
  }
  if (regained) throw new UsageError(`--user ${plan.user}: root could be regained after the switch; stopping`)
  const kept = keep.length > 0 ? `, keeping only ${keep.map((k) => `CAP_${k.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()}`).join(', ')} (for TUN MTU changes)` : ', no capabilities'
  log.info(`privileges: now running as ${plan.user}:${plan.group} (uid ${plan.uid}, gid ${plan.gid})${kept}`)
}

/** Adds --user and --group to a long-running command. */
export function addPrivilegeOptions (command: { option: (raw: string, description: string) => unknown }): void {
  command.option('--user <name>', privilegeHelp.user)
  command.option('--group <name>', privilegeHelp.group)
}

/**
 * After the switch: an --on-event script given by path must still be executable, now by the
 * user we became (it was checked as root at start, when everything is executable).
 */
export async function assertHookRunnable (script: unknown, plan: DropPlan): Promise<void> {
  if (typeof script !== 'string' || !script.includes('/')) return
  const { access, constants } = await import('node:fs/promises')
  try {
    await access(script, constants.X_OK)
  } catch {
    throw new UsageError(`--on-event ${script}: not executable by user ${plan.user} (--user): make it readable and executable for ${plan.user}, e.g. chmod 755`)
  }
}
