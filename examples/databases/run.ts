/**
 * Runs the whole example: a relay (the `herald` CLI), three members of "databases" in three
 * separate processes, then the client. Everything it started is stopped before it exits.
 *
 *   npx tsx examples/databases/run.ts              starts its own relay on a free port
 *   npx tsx examples/databases/run.ts --port 55555 uses the relay already running there (npm start)
 *
 * Exit code 0 when the client got every answer, 1 otherwise.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const here = dirname(fileURLToPath(import.meta.url))
// The herald command of @herald/cli (its launcher, bin/herald.js, beside dist/).
const cli = fileURLToPath(new URL('../bin/herald.js', import.meta.resolve('@herald/cli')))
const MEMBERS = ['db-1', 'db-2', 'db-3']

const { values } = parseArgs({ options: { port: { type: 'string' } } })

const children: ChildProcess[] = []

/** Starts `node [--import tsx] script ...args`; its stderr goes to ours, prefixed with `tag`. */
function start(tag: string, script: string, args: string[], tsx: boolean): ChildProcess {
  const child = spawn(process.execPath, [...(tsx ? ['--import', 'tsx'] : []), script, ...args], {
    cwd: here,
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  children.push(child)
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    for (const line of chunk.split('\n')) if (line !== '') process.stderr.write(`[${tag}] ${line}\n`)
  })
  return child
}

/** Resolves with the first stdout line matching `re`; rejects if the process exits first. */
function lineMatching(child: ChildProcess, re: RegExp, timeoutMs = 15_000): Promise<RegExpMatchArray> {
  return new Promise((resolve, reject) => {
    let buffered = ''
    const timer = setTimeout(() => fail(new Error(`timed out waiting for ${String(re)}`)), timeoutMs)
    const onData = (chunk: string): void => {
      buffered += chunk
      const m = buffered.match(re)
      if (m !== null) { cleanup(); resolve(m) }
    }
    const onExit = (code: number | null): void => fail(new Error(`process exited (${String(code)}) before printing ${String(re)}`))
    const fail = (err: Error): void => { cleanup(); reject(err) }
    const cleanup = (): void => {
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      child.off('exit', onExit)
    }
    child.stdout!.setEncoding('utf8').on('data', onData)
    child.once('exit', onExit)
  })
}

/** Resolves with the exit code once the process has exited and its output has been read. */
function exited(child: ChildProcess): Promise<number> {
  return new Promise((resolve) => {
    if (child.stdout!.readableEnded && (child.exitCode !== null || child.signalCode !== null)) resolve(child.exitCode ?? 1)
    else child.once('close', (code) => resolve(code ?? 1))
  })
}

async function stopAll(): Promise<void> {
  const waits = children.map(async (c) => {
    const done = exited(c)
    c.kill('SIGTERM')
    const timer = setTimeout(() => c.kill('SIGKILL'), 3_000)
    await done
    clearTimeout(timer)
  })
  await Promise.all(waits)
}

async function main(): Promise<number> {
  let port: number
  if (values.port !== undefined) {
    port = Number(values.port)
    console.error(`using the relay on port ${port}`)
  } else {
    const relay = start('relay', cli, ['relay', '--dev', '--port', '0', '--json'], false)
    const m = await lineMatching(relay, /^(\{"event":"ready".*\})$/m)
    port = (JSON.parse(m[1] as string) as { port: number }).port
    console.error(`relay ready on port ${port}`)
  }

  const members = MEMBERS.map((name) => start(name, join(here, 'member.ts'), [name, '--port', String(port)], true))
  await Promise.all(members.map((m, i) => lineMatching(m, new RegExp(`^ready ${MEMBERS[i]}$`, 'm'))))
  console.error(`members ready: ${MEMBERS.join(', ')}`)

  const client = start('client', join(here, 'client.ts'), ['--port', String(port), '--requests', '300'], true)
  client.stdout!.pipe(process.stdout)
  return exited(client)
}

// Ctrl-C (the children get it from the terminal too) or SIGTERM: stop them before exiting.
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { void stopAll().then(() => process.exit(130)) })

let code = 1
try {
  code = await main()
} catch (err) {
  console.error(`run: ${err instanceof Error ? err.message : String(err)}`)
} finally {
  await stopAll()
}
process.exit(code)
