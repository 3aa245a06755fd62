/**
 * Which process owns which TCP socket, read from Linux /proc. A relay behind a proxy announces
 * the proxy, so its ready line no longer says where it really listens; and a proxy sees only
 * a client's port, not which relay dialled. Both answers are in /proc/net/tcp (sockets by
 * inode) and /proc/<pid>/fd (inodes by process).
 */
import { readFileSync, readdirSync, readlinkSync } from 'node:fs'

export interface TcpRow {
  localPort: number
  remotePort: number
  /** Kernel TCP state: 0x0A is LISTEN, 0x01 ESTABLISHED. */
  state: number
  inode: string
}

export const TCP_LISTEN = 0x0a

/** Parses /proc/net/tcp or /proc/net/tcp6 (the header line and malformed lines are skipped). */
export function parseProcNetTcp(text: string): TcpRow[] {
  const rows: TcpRow[] = []
  for (const line of text.split('\n')) {
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode ...
    const f = line.trim().split(/\s+/)
    if (f.length < 10 || !/^\d+:$/.test(f[0]!)) continue
    const port = (addr: string): number => parseInt(addr.slice(addr.lastIndexOf(':') + 1), 16)
    const row = { localPort: port(f[1]!), remotePort: port(f[2]!), state: parseInt(f[3]!, 16), inode: f[9]! }
    if (Number.isInteger(row.localPort) && Number.isInteger(row.remotePort) && /^\d+$/.test(row.inode)) rows.push(row)
  }
  return rows
}

function readTcp(pid: number | 'self'): TcpRow[] {
  const rows: TcpRow[] = []
  for (const file of ['tcp', 'tcp6']) {
    try {
      rows.push(...parseProcNetTcp(readFileSync(`/proc/${pid}/net/${file}`, 'utf8')))
    } catch {
      // No IPv6 in this kernel, or the process is gone.
    }
  }
  return rows
}

/** The inodes of the sockets a process holds open (empty when it is gone). */
export function socketInodes(pid: number): Set<string> {
  const out = new Set<string>()
  let fds: string[] = []
  try {
    fds = readdirSync(`/proc/${pid}/fd`)
  } catch {
    return out
  }
  for (const fd of fds) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`))
      if (m !== null) out.add(m[1]!)
    } catch {
      // Closed since readdir.
    }
  }
  return out
}

/** The TCP ports a process listens on (in its own network namespace). */
export function listeningPorts(pid: number): number[] {
  const mine = socketInodes(pid)
  const ports = readTcp(pid).filter((r) => r.state === TCP_LISTEN && mine.has(r.inode)).map((r) => r.localPort)
  return [...new Set(ports)].sort((a, b) => a - b)
}

/**
 * Which of `pids` holds the client end of a loopback connection from `clientPort` to
 * `serverPort` (as a server sees it: the client's port is the peer's), or undefined.
 */
export function ownerOfConnection(clientPort: number, serverPort: number, pids: Iterable<number>): number | undefined {
  const row = readTcp('self').find((r) => r.localPort === clientPort && r.remotePort === serverPort && r.state !== TCP_LISTEN)
  if (row === undefined) return undefined
  for (const pid of pids) if (socketInodes(pid).has(row.inode)) return pid
  return undefined
}
