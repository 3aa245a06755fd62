/** The test's end of an agent (agent.ts): commands as JSON lines, answers matched by id. */
import type { ChildProcess } from 'node:child_process'

interface Answer { id?: number; ok?: boolean; result?: unknown; error?: string; event?: string }

export class AgentClient {
  private nextId = 1
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>()
  private readyResolve!: () => void
  private exitedFlag = false
  readonly ready: Promise<void>

  constructor(readonly name: string, readonly child: ChildProcess) {
    this.ready = new Promise((r) => { this.readyResolve = r })
    let partial = ''
    child.stdout!.setEncoding('utf8').on('data', (c: string) => {
      partial += c
      for (let i = partial.indexOf('\n'); i >= 0; i = partial.indexOf('\n')) {
        const line = partial.slice(0, i)
        partial = partial.slice(i + 1)
        let a: Answer
        try { a = JSON.parse(line) as Answer } catch { continue }
        if (a.event === 'ready') this.readyResolve()
        const w = a.id === undefined ? undefined : this.waiting.get(a.id)
        if (w === undefined) continue
        this.waiting.delete(a.id!)
        if (a.ok === true) w.resolve(a.result)
        else w.reject(new Error(`${this.name}: ${a.error ?? 'failed'}`))
      }
    })
    child.once('exit', (code, sig) => {
      this.exitedFlag = true
      for (const w of this.waiting.values()) w.reject(new Error(`${this.name} exited (${String(code ?? sig)})`))
      this.waiting.clear()
    })
    child.stdin!.on('error', () => {})
  }

  call<T = unknown>(op: string, args: Record<string, unknown> = {}, timeoutMs = 15_000): Promise<T> {
    if (this.exitedFlag) return Promise.reject(new Error(`${this.name} has exited`))
    const id = this.nextId++
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id)
        reject(new Error(`${this.name}: no answer to ${op} within ${timeoutMs} ms`))
      }, timeoutMs)
      this.waiting.set(id, {
        resolve: (v) => { clearTimeout(timer); resolve(v as T) },
        reject: (e) => { clearTimeout(timer); reject(e) },
      })
      this.child.stdin!.write(JSON.stringify({ id, op, ...args }) + '\n')
    })
  }
}
