import { MAX_TIMER_MS } from '@herald/wire'
import { TimeoutError, ClosedError, HeraldError } from './errors.js'

/** Options every call that waits accepts. */
export interface WaitOptions {
  timeoutMs?: number
  signal?: AbortSignal
}

export type Payload = Uint8Array | string

const utf8 = new TextEncoder()
export function toBytes(payload: Payload): Uint8Array {
  if (typeof payload === 'string') return utf8.encode(payload)
  if (payload instanceof Uint8Array) return payload
  throw new HeraldError('INVALID', 'payload must be a Uint8Array or a string')
}

export const RESOLVED: Promise<void> = Promise.resolve()

/**
 * A promise that settles with `work`'s outcome, or rejects with TimeoutError after timeoutMs,
 * or with the signal's reason. `cancel` runs when the wait gives up (to release resources).
 */
export function withDeadline<T>(
  work: Promise<T>,
  options: WaitOptions,
  what: string,
  cancel?: () => void,
): Promise<T> {
  const { timeoutMs, signal } = options
  if (timeoutMs === undefined && signal === undefined) return work
  if (signal?.aborted === true) {
    cancel?.()
    return Promise.reject(abortError(signal, what))
  }
  return new Promise<T>((resolve, reject) => {
    let timer: ReturnType<typeof setTimeout> | undefined
    const onAbort = (): void => {
      done()
      cancel?.()
      reject(abortError(signal as AbortSignal, what))
    }
    const done = (): void => {
      if (timer !== undefined) clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => {
        done()
        cancel?.()
        reject(new TimeoutError(`${what} timed out after ${timeoutMs} ms`))
      }, Math.min(timeoutMs, MAX_TIMER_MS))
    }
    signal?.addEventListener('abort', onAbort, { once: true })
    work.then((v) => { done(); resolve(v) }, (e: unknown) => { done(); reject(e) })
  })
}

/** The error for an aborted wait: always a HeraldError (the signal's reason is its cause). */
export function abortError(signal: AbortSignal, what: string): HeraldError {
  const reason: unknown = signal.reason
  if (reason instanceof HeraldError) return reason
  if (reason instanceof Error && reason.name === 'TimeoutError') return new TimeoutError(`${what} timed out (signal)`, { cause: reason })
  return new ClosedError(`${what} aborted`, { cause: reason })
}

export function checkTimeout(timeoutMs: number | undefined, fallback: number): number {
  const t = timeoutMs ?? fallback
  if (!Number.isFinite(t) || t < 0) throw new HeraldError('INVALID', `timeoutMs must be a non-negative number, got ${String(t)}`)
  return Math.min(Math.floor(t), MAX_TIMER_MS)
}
