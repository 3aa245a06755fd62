/**
 * Request/reply member (a worker process of bench/run.ts): joins --cluster and answers every
 * request with its own bytes.
 *
 * stdin (JSON lines from the driver): {"mark":true} when the client's measured phase starts;
 * {"stop":true} when it is over. stdout: {"ready":true} once it serves; then
 * {"done":true,"handled":N,"measured":N,"cpuSeconds":s} (measured and cpuSeconds: since the mark).
 */
import { parseArgs } from 'node:util'
import { cpuNow, emit, onStdinJson } from '../lines.js'
import { startEchoMember, systemOf } from './client.js'

const { values } = parseArgs({ options: { system: { type: 'string' }, port: { type: 'string' }, cluster: { type: 'string' } } })

let handled = 0
const member = await startEchoMember(systemOf(values.system), Number(values.port), values.cluster ?? 'bench', () => { handled++ })
emit({ ready: true })

let cpuAtMark = 0
let handledAtMark = 0
onStdinJson((msg) => {
  if (msg['mark'] === true) { cpuAtMark = cpuNow(); handledAtMark = handled }
  if (msg['stop'] === true) {
    const cpuSeconds = cpuNow() - cpuAtMark
    emit({ done: true, handled, measured: handled - handledAtMark, cpuSeconds })
    void member.close().finally(() => process.exit(0))
    setTimeout(() => process.exit(0), 2000).unref()
  }
})
