/**
 * The examples are programs people copy: each one runs here end to end, as a user would
 * start it (`node --import tsx examples/<name>/run.ts`, or the example's own test with
 * `node --import tsx --test ...`), in its own process tree.
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

  it('pressure: the quotes service passes its own tests under lossy-wan (node:test and @herald/testkit)', async () => {
    const run = spawnNode('--test', [join(ROOT, 'examples/pressure/quotes.test.ts')], { nodeArgs: ['--import', 'tsx'] })
    // SIGTERM lets the test runner finish its teardown (cleanup() of the relays it started).
    const timer = setTimeout(() => run.kill('SIGTERM'), 110_000)
    const code = await run.closed
    clearTimeout(timer)
    expect(code, `stdout:\n${run.stdout()}\nstderr:\n${run.stderr()}`).toBe(0)
    expect(run.stdout()).toMatch(/^# pass 4$/m)
    expect(run.stdout()).toMatch(/^# fail 0$/m)
  }, 120_000)
})
