import type { ServerResponse } from 'node:http'

/** Browsers watching at most; more are refused (503). */
const MAX_CLIENTS = 32
/** A browser that has not read this much is skipped until it has (nothing queues without bound). */
const MAX_UNREAD_BYTES = 1024 * 1024

/**
 * Server-sent events to the browsers watching: each message goes to every one that keeps up;
 * one that does not loses messages (counted) rather than growing the relay's memory.
 */
export class SseHub {
  private readonly clients = new Set<ServerResponse>()
  skipped = 0

  get size(): number {
    return this.clients.size
  }

  /** Takes over `res` as an event stream; `first` is sent to it alone, at once. False when full. */
  add(res: ServerResponse, first: Array<{ event: string; data: unknown }>): boolean {
    if (this.clients.size >= MAX_CLIENTS) return false
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-store',
      connection: 'keep-alive',
    })
    res.write('retry: 2000\n\n')
    for (const m of first) res.write(frame(m.event, m.data))
    this.clients.add(res)
    res.on('close', () => this.clients.delete(res))
    return true
  }

  send(event: string, data: unknown): void {
    if (this.clients.size === 0) return
    const text = frame(event, data)
    for (const res of this.clients) {
      if (res.writableLength > MAX_UNREAD_BYTES) this.skipped++
      else res.write(text)
    }
  }

  close(): void {
    for (const res of this.clients) res.end()
    this.clients.clear()
  }
}

function frame(event: string, data: unknown): string {
  // JSON has no raw newlines, so the payload is one data line.
  return `event: ${event}\ndata: ${JSON.stringify(data)}\n\n`
}
