/** JSON lines between the bench driver and its worker processes. */
import type { Proc } from '../test/harness.js'

/** Calls `onMessage` with each JSON object a worker prints on stdout (other lines are ignored). */
export function onJsonLines(proc: Proc, onMessage: (msg: Record<string, unknown>) => void): void {
  let partial = ''
  proc.child.stdout!.on('data', (chunk: string) => {
    partial += chunk
    let nl: number
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      if (!line.startsWith('{')) continue
      try {
        onMessage(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // Not ours; ignore.
      }
    }
  })
}

/** Prints one JSON line on stdout (from a worker). */
export function emit(msg: Record<string, unknown>): void {
  process.stdout.write(JSON.stringify(msg) + '\n')
}

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export function wallMs(): number {
  return performance.timeOrigin + performance.now()
}

/**
 * Milliseconds on the monotonic clock, the same in every thread of a process (unlike
 * performance.now(), whose origin is per thread).
 */
export function hrMs(): number {
  return Number(process.hrtime.bigint()) / 1e6
}

/** Calls `onMessage` with each JSON object the driver writes on this worker's stdin. */
export function onStdinJson(onMessage: (msg: Record<string, unknown>) => void): void {
  let partial = ''
  process.stdin.setEncoding('utf8').on('data', (chunk: string) => {
    partial += chunk
    let nl: number
    while ((nl = partial.indexOf('\n')) >= 0) {
      const line = partial.slice(0, nl)
      partial = partial.slice(nl + 1)
      if (!line.startsWith('{')) continue
      try {
        onMessage(JSON.parse(line) as Record<string, unknown>)
      } catch {
        // Not ours; ignore.
      }
    }
  })
}

/** CPU seconds (user + system) this process has used so far. */
export function cpuNow(): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1e6
}
