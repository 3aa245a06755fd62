/**
 * The examples are programs people copy: each one runs here end to end, as a user would
 * start it (`node --import tsx examples/<name>/run.ts`), in its own process tree.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { join } from 'node:path'
import { ROOT, killAll, spawnNode } from './harness.js'

afterAll(killAll)

describe('examples', () => {
  it('databases: 300 requests balanced over three member processes', async () => {
    const run = spawnNode(join(ROOT, 'examples/databases/run.ts'), [], { nodeArgs: ['--import', 'tsx'] })
    // SIGTERM, not SIGKILL: run.ts then stops the relay and members it started.
    const timer = setTimeout(() => run.kill('SIGTERM'), 50_000)
    const code = await run.closed
    clearTimeout(timer)
    expect(code, `stderr:\n${run.stderr()}`).toBe(0)

    const line = run.stdout().split('\n').reverse().find((l) => l.startsWith('{"answered"'))
    expect(line, `stdout:\n${run.stdout()}`).toBeDefined()
    const { answered } = JSON.parse(line as string) as { answered: Record<string, number> }
    expect(Object.keys(answered).sort()).toEqual(['db-1', 'db-2', 'db-3'])
    expect(Object.values(answered).reduce((a, b) => a + b, 0)).toBe(300)
    for (const n of Object.values(answered)) expect(n).toBeGreaterThan(0)
  })
})
