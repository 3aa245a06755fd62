/**
 * Everything the testkit starts is registered here and torn down by cleanup() — or, if the
 * test process exits without calling it (a crash, an uncaught error), by a synchronous 'exit'
 * hook that SIGKILLs every process left. (A runner killed by SIGKILL runs no hook: then the
 * guard, guard.ts, makes each relay exit when its stdin pipe closes.)
 */
import type { ChildProcess } from 'node:child_process'

interface Closable {
  close(): Promise<void>
}

const processes = new Set<ChildProcess>()
const closables = new Set<Closable>()
let hooked = false

function killNow(child: ChildProcess): void {
  if (child.exitCode !== null || child.signalCode !== null) return
  try {
    // A frozen (SIGSTOPped) process dies of SIGKILL too.
    child.kill('SIGKILL')
  } catch {
    // Already gone.
  }
}

function hook(): void {
  if (hooked) return
  hooked = true
  process.once('exit', () => { for (const c of processes) killNow(c) })
}

export function track(child: ChildProcess): void {
  hook()
  processes.add(child)
  child.once('exit', () => processes.delete(child))
}

export function trackClosable(c: Closable): void {
  closables.add(c)
}

/**
 * Kills every relay the testkit started (SIGKILL) and closes every proxy and connection it
 * opened. Call it in teardown (afterAll, after, test.after); it never throws.
 */
export async function cleanup(): Promise<void> {
  const exits = [...processes].map((c) => new Promise<void>((resolve) => {
    if (c.exitCode !== null || c.signalCode !== null) resolve()
    else c.once('exit', () => resolve())
  }))
  for (const c of processes) killNow(c)
  const closing = [...closables].map((c) => c.close().catch(() => {}))
  closables.clear()
  await Promise.all([...exits, ...closing])
}
