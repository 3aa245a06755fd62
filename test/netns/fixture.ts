/**
 * A scriptable Herald client for the network-namespace test: it runs inside a namespace
 * (next to that namespace's relay, whose client port is on 127.0.0.1 there), reads one JSON
 * command per line on stdin and answers with one JSON line per command on stdout. Things
 * that happen on their own (a broadcast or event received, a tunnel served) are printed as
 * `{"event": ...}` lines.
 *
 *   node --import tsx test/netns/fixture.ts PORT
 *
 * Commands ({"id": N, "op": ..., ...}), answered by {"id": N, "ok": true, "result": ...}
 * or {"id": N, "ok": false, "error": "...", "code": "..."}:
 *   register  {cluster, tag}          a member: replies "<tag>:<request>", prints broadcasts,
 *                                     echoes every tunnel message back
 *   subscribe {topic}                 prints every event
 *   request   {cluster, payload, timeoutMs?}  -> the reply as UTF-8
 *   broadcast {cluster, payload}
 *   publish   {topic, payload}
 *   tunnel    {cluster, messages: string[], bigBytes?: number}
 *                                     opens a tunnel, sends each message (then, if bigBytes,
 *                                     one message of that many bytes), reads as many back ->
 *                                     the echoed strings (the big one as "<big:N:ok|bad>")
 *   status    {}                      -> the relay's $herald.status
 */
import { connect, register, type Service } from '@herald/client'
import { emit, serveCommands, type Command } from '../json-commands.js'

const port = Number(process.argv[2])
if (!Number.isInteger(port) || port <= 0) {
  process.stderr.write('usage: fixture.ts PORT\n')
  process.exit(2)
}

const fromUtf8 = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8')

const conn = await connect({ port })
const services: Service[] = []

type Cmd = Command

async function run(cmd: Cmd): Promise<unknown> {
  const str = (k: string): string => String(cmd[k])
  switch (cmd.op) {
    case 'register': {
      const cluster = str('cluster')
      const tag = str('tag')
      services.push(await register({
        port,
        cluster,
        handler: {
          handleRequest: (req) => `${tag}:${fromUtf8(req)}`,
          handleBroadcast: (msg) => emit({ event: 'broadcast', cluster, tag, payload: fromUtf8(msg) }),
          async handleTunnel(tun) {
            let n = 0
            try {
              for await (const m of tun) {
                await tun.send(m)
                n++
              }
            } catch (err) {
              emit({ event: 'tunnel-error', cluster, tag, error: String(err) })
            }
            emit({ event: 'tunnel-served', cluster, tag, messages: n })
          },
          handleDrop: (reason) => emit({ event: 'drop', cluster, reason: reason.message }),
        },
      }))
      return 'registered'
    }
    case 'subscribe': {
      const topic = str('topic')
      await conn.subscribe(topic, { handleEvent: (ev) => emit({ event: 'event', topic, payload: fromUtf8(ev) }) })
      return 'subscribed'
    }
    case 'request':
      return fromUtf8(await conn.request(str('cluster'), str('payload'), { timeoutMs: Number(cmd['timeoutMs'] ?? 5000) }))
    case 'broadcast':
      await conn.broadcast(str('cluster'), str('payload'))
      return 'sent'
    case 'publish':
      await conn.publish(str('topic'), str('payload'))
      return 'sent'
    case 'tunnel': {
      const tun = await conn.tunnel(str('cluster'), { timeoutMs: 10_000 })
      const messages = (cmd['messages'] as string[]) ?? []
      const bigBytes = Number(cmd['bigBytes'] ?? 0)
      const out: string[] = []
      // Writer and reader run at once: flow control must let the echo through both ways.
      const reading = (async () => {
        for (let i = 0; i < messages.length; i++) out.push(fromUtf8(await tun.receive({ timeoutMs: 10_000 })))
        if (bigBytes > 0) {
          let got = 0
          let ok = true
          while (got < bigBytes) {
            const m = await tun.receive({ timeoutMs: 10_000 })
            for (let j = 0; j < m.length; j++) if (m[j] !== (got + j) % 251) ok = false
            got += m.length
          }
          out.push(`<big:${got}:${ok && got === bigBytes ? 'ok' : 'bad'}>`)
        }
      })()
      for (const m of messages) await tun.send(m, { timeoutMs: 10_000 })
      if (bigBytes > 0) {
        const big = new Uint8Array(bigBytes)
        for (let j = 0; j < bigBytes; j++) big[j] = j % 251
        await tun.send(big, { timeoutMs: 10_000 })
      }
      await reading
      await tun.close()
      return out
    }
    case 'status':
      return JSON.parse(fromUtf8(await conn.request('$herald.status', '', { timeoutMs: 5000 })))
    default:
      throw new Error(`unknown op ${cmd.op}`)
  }
}

serveCommands(run, () => {
  void Promise.all(services.map((s) => s.close())).finally(() => conn.close()).finally(() => process.exit(0))
})
