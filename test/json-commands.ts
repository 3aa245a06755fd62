/**
 * The command loop of the scriptable test processes (test/netns/fixture.ts,
 * test/pressure/agent.ts): one JSON command per stdin line ({"id": N, "op": ...}), one answer
 * per stdout line ({"id": N, "ok": true, "result": ...} or {"id": N, "ok": false, "error": ...,
 * "code": ...}); then {"event": "ready"}. `onClose` runs when stdin ends (the test is gone).
 */
import { createInterface } from 'node:readline'
import { HeraldError } from '@herald/client'

export type Command = { id: number; op: string } & Record<string, unknown>

export const emit = (x: unknown): void => { process.stdout.write(JSON.stringify(x) + '\n') }

export function serveCommands(run: (cmd: Command) => Promise<unknown>, onClose: () => void): void {
  const lines = createInterface({ input: process.stdin })
  lines.on('line', (line) => {
    if (line.trim() === '') return
    let cmd: Command
    try {
      cmd = JSON.parse(line) as Command
    } catch {
      emit({ event: 'bad-command', line })
      return
    }
    run(cmd).then(
      (result) => emit({ id: cmd.id, ok: true, result }),
      (err: unknown) => emit({ id: cmd.id, ok: false, error: err instanceof Error ? err.message : String(err), code: err instanceof HeraldError ? err.code : undefined }),
    )
  })
  lines.on('close', onClose)
  emit({ event: 'ready', pid: process.pid })
}
