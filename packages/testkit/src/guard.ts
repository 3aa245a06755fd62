/**
 * Runs a script in this process and dies with the process that started it: `node guard.js
 * SCRIPT ARGS...` loads SCRIPT as if started as `node SCRIPT ARGS...`, and exits the moment
 * its stdin closes. The testkit starts relays through it with a pipe as stdin, so a test
 * runner killed outright (SIGKILL, a crash its 'exit' hooks never see) leaves no relay behind:
 * the kernel closes the pipe, and the relay goes with it.
 */
import { pathToFileURL } from 'node:url'

const script = process.argv[2]
if (script === undefined) {
  process.stderr.write('usage: guard.js SCRIPT [ARGS...]\n')
  process.exit(2)
}
// SIGKILL, not exit(): nothing of the script's (a graceful stop that waits on peers) may delay it.
const die = (): void => { process.kill(process.pid, 'SIGKILL') }
process.stdin.on('end', die).on('close', die).on('error', die)
process.stdin.resume()
process.argv.splice(1, 2, script)
await import(pathToFileURL(script).href)
