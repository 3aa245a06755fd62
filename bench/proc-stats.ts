/** Figures read from Linux /proc: a process's CPU seconds, a peak-RSS sampler, the machine's load. */
import { execSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
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

/** Samples the machine's 1-min load average every `intervalMs`, for the results' header. */
export class LoadSampler {
  private readonly samples: number[] = [loadavg()[0]!]
  private readonly timer: ReturnType<typeof setInterval>

  constructor(intervalMs: number) {
    this.timer = setInterval(() => this.samples.push(loadavg()[0]!), intervalMs)
    this.timer.unref()
  }

  /** "median (min–max)" of the samples. */
  stop(): string {
    clearInterval(this.timer)
    const s = [...this.samples].sort((a, b) => a - b)
    return `${s[s.length >> 1]!.toFixed(2)} (${s[0]!.toFixed(2)}–${s[s.length - 1]!.toFixed(2)})`
  }
}
