/**
 * The few system commands kernel mode runs (ip, nft, tc), run synchronously so cleanup can
 * happen inside a process 'exit' handler, and the check of what is missing, in one line
 * that says how to get it.
 */
import { execFileSync } from 'node:child_process'

export class SystemCommandError extends Error {
  override readonly name = 'SystemCommandError'
}

/** Runs a command; throws SystemCommandError with the command and its first stderr line. */
export function run(command: string, args: string[], input?: string): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'], timeout: 15_000 })
  } catch (err) {
    const e = err as { stderr?: string; message: string }
    const why = (e.stderr ?? '').trim().split('\n').slice(0, 3).join(' / ') || e.message.split('\n')[0]
    throw new SystemCommandError(`${command} ${args.join(' ')}: ${why}`)
  }
}

/** `ip netns exec NS command args...`. */
export function runIn(ns: string, command: string, args: string[], input?: string): string {
  return run('ip', ['netns', 'exec', ns, command, ...args], input)
}

export interface Probe {
  uid: number | undefined
  /** True when the command runs (exit 0). */
  works: (command: string, args: string[]) => boolean
}

const systemProbe: Probe = {
  uid: process.getuid?.(),
  works: (command, args) => {
    try {
      execFileSync(command, args, { stdio: 'ignore', timeout: 10_000 })
      return true
    } catch {
      return false
    }
  },
}

export const APT_LINE = 'apt-get install -y iproute2 nftables'

/**
 * Why kernel mode cannot run here (every missing piece, in one line), or undefined when it
 * can: root, `ip netns`, `nft` and `tc`.
 */
export function lanUnavailable(probe: Probe = systemProbe): string | undefined {
  const missing: string[] = []
  if (probe.uid !== 0) missing.push(`not root (uid ${String(probe.uid)}): network namespaces, nftables and tc need root`)
  if (!probe.works('ip', ['netns', 'list'])) missing.push('"ip netns" does not work (install iproute2)')
  if (!probe.works('nft', ['--version'])) missing.push('"nft" is missing (install nftables)')
  if (!probe.works('tc', ['-V'])) missing.push('"tc" is missing (install iproute2)')
  if (missing.length === 0) return undefined
  return `kernel mode is unavailable: ${missing.join('; ')}${probe.uid === 0 ? `; as root: ${APT_LINE}` : ''}`
}
