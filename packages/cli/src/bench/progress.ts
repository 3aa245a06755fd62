import { MultiBar, Presets, type SingleBar } from 'cli-progress'

/** Live progress on stderr, one bar per role (cli-progress; nothing when stderr is not a terminal). */
export class Progress {
  private readonly bars = new MultiBar({
    format: ' {role} |{bar}| {percentage}% | {count} msgs | {rate} msg/s',
    hideCursor: true, clearOnComplete: false, stopOnComplete: false, barsize: 30, fps: 5,
  }, Presets.shades_classic)
  private readonly rows: Array<{ bar: SingleBar; role: string; count: () => number; last: number; lastAt: number }> = []

  constructor(private readonly total: number, private readonly timed: boolean) {}

  /** A bar for `role`, counting `count()` (out of `total` messages, or seconds when timed). */
  add(role: string, count: () => number): void {
    const label = role.padEnd(11)
    const bar = this.bars.create(this.total, 0, { role: label, count: '0', rate: '0' })
    this.rows.push({ bar, role: label, count, last: 0, lastAt: Date.now() })
  }

  update(elapsedSeconds: number): void {
    const t = Date.now()
    for (const r of this.rows) {
      const n = r.count()
      const rate = ((n - r.last) / Math.max(1e-3, (t - r.lastAt) / 1000))
      r.last = n
      r.lastAt = t
      r.bar.update(this.timed ? Math.min(this.total, elapsedSeconds) : Math.min(this.total, n), {
        role: r.role, count: Math.round(n).toLocaleString('en-US'), rate: Math.round(rate).toLocaleString('en-US'),
      })
    }
  }

  stop(): void {
    this.bars.stop()
  }
}
