/** Per-process figures read from Linux /proc: CPU seconds and a peak-RSS sampler. */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { rssOf } from '../test/harness.js'

const CLK_TCK = ((): number => {
  try {
    const n = Number(execSync('getconf CLK_TCK', { encoding: 'utf8' }).trim())
    return Number.isInteger(n) && n > 0 ? n : 100
  } catch {
    return 100
  }
})()

/** User + system CPU seconds a live process has used so far (utime + stime of /proc/<pid>/stat). */
export function cpuSecondsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
  // The command name (field 2) may contain spaces and parentheses: split after its last ')'.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  // fields[0] is field 3 (state), so utime (14) and stime (15) are fields[11] and fields[12].
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

/** Samples a process's RSS every `intervalMs` and keeps the peak (until stop()). */
export class RssSampler {
  peak = 0
  last = 0
  private readonly timer: ReturnType<typeof setInterval>

  constructor(private readonly pid: number, intervalMs = 100) {
    this.sample()
    this.timer = setInterval(() => this.sample(), intervalMs)
  }

  sample(): void {
    try {
      this.last = rssOf(this.pid)
      if (this.last > this.peak) this.peak = this.last
    } catch {
      // The process has exited; keep the peak seen so far.
    }
  }

  stop(): number {
    clearInterval(this.timer)
    this.sample()
    return this.peak
  }
}
