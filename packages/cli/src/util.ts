import { Command, InvalidArgumentError } from 'commander'
import { connect, type Connection } from '@herald/client'
import { DEFAULT_CLIENT_PORT } from '@herald/wire'

/** A mistake in how the command was called: exit code 2, one line on stderr. */
export class UsageError extends Error {
  override readonly name = 'UsageError'
}

/** An option parser for integers of at least `min` (and at most `max`). */
export function integer(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = Number(v)
    if (v.trim() === '' || !Number.isInteger(n) || n < min) throw new InvalidArgumentError(`--${name} must be an integer >= ${min}, got "${v}"`)
    if (n > max) throw new InvalidArgumentError(`--${name} must be at most ${max}`)
    return n
  }
}

/** --port of a client command: the relay's client port. */
export function withPortOption(cmd: Command): Command {
  return cmd.option('-p, --port <N>', `the relay's client port`, integer('port', 1, 65535), DEFAULT_CLIENT_PORT)
}

/** Runs `fn` with a connection to the relay on `port`, closing it afterwards. */
export async function withConnection<T>(port: number, fn: (c: Connection) => Promise<T>): Promise<T> {
  const conn = await connect({ port })
  try {
    return await fn(conn)
  } finally {
    await conn.close()
  }
}

/** Writes to stdout and waits until it is handed to the OS (the process may exit right after). */
export function writeOut(data: Uint8Array | string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(data, (err) => (err ? reject(err) : resolve())))
}

export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  return Buffer.concat(chunks)
}

/** Resolves on the first SIGINT or SIGTERM, with its name. */
export function untilSignal(): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    process.once('SIGINT', () => resolve('SIGINT'))
    process.once('SIGTERM', () => resolve('SIGTERM'))
  })
}
