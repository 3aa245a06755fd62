/** The router alone, with test endpoints and a ManualClock (router*.test.ts). */
import { expect } from 'vitest'
import { ErrorCode, FrameType } from '@herald/wire'
import { ManualClock, Router, type RouterInit } from '../../src/index.js'
import { LIMITS, TestClient, TestPeer } from './endpoints.js'

/** A router on a ManualClock; `member` attaches a test client and registers it (LIMITS unless overridden). */
export function setup(init: Partial<RouterInit> = {}) {
  const clock = new ManualClock()
  const router = new Router({ clock, ...init })
  const attach = <T extends TestClient | TestPeer>(e: T): T => { router.attach(e); return e }
  const member = (name: string, cluster: string, limits = {}): TestClient => {
    const m = attach(new TestClient(name))
    expect(router.register(m, cluster, { ...LIMITS, ...limits })).toEqual({ code: ErrorCode.ok, message: '' })
    return m
  }
  return { clock, router, attach, member }
}

/** Answers every request the member holds, echoing its payload. */
export function answerAll(router: Router, m: TestClient): number {
  const reqs = m.take(FrameType.request)
  for (const r of reqs) router.memberAnswer(m, r.id, { payload: r.payload })
  return reqs.length
}
