// The relay's structured log: the plain-line adapter, the recent-warnings ring, and the events
// relays in memory log, with their stable names and fields.
import { afterEach, describe, expect, it } from 'vitest'
import { FrameType, encodeFrame } from '@herald/wire'
import { formatLine, lineLogger, type LogFields, type Logger } from '../src/index.js'
import { RecentEvents } from '../src/log.js'
import { fullMesh, memoryRelays, turns, until, type MemoryRelays } from './support/memory-relays.js'

let m: MemoryRelays | undefined
afterEach(async () => {
  await m?.stop()
  m = undefined
})

interface Logged { level: string; fields: LogFields; msg: string }

/** A Logger that keeps every call (the shape pino would get). */
function recorder(): Logger & { all: Logged[] } {
  const all: Logged[] = []
  const at = (level: string) => (fields: LogFields, msg: string): void => { all.push({ level, fields: { ...fields }, msg }) }
  return { all, error: at('error'), warn: at('warn'), info: at('info'), debug: at('debug') }
}

describe('log: adapters', () => {
  it('lineLogger writes "msg (key=value ...)" for its level and above only', () => {
    const lines: string[] = []
    const log = lineLogger((l) => lines.push(l), 'warn')
    log.debug({ event: 'x.debug' }, 'hidden')
    log.info({ event: 'x.info' }, 'hidden too')
    log.warn({ event: 'link.down', peer: 'p1', bytes: 3, gone: undefined }, 'link down')
    log.error({ event: 'x.error', why: { a: 1 } }, 'bad')
    expect(lines).toEqual(['link down (event=link.down peer=p1 bytes=3)', 'bad (event=x.error why={"a":1})'])
    expect(formatLine({ event: 'e' }, 'm')).toBe('m (event=e)')
  })

  it('RecentEvents passes everything on and keeps the last warnings and errors, oldest first', () => {
    const inner = recorder()
    let now = 0
    const r = new RecentEvents(inner, () => ++now, 3)
    r.info({ event: 'i' }, 'info is not kept')
    for (let i = 1; i <= 5; i++) r.warn({ event: `w${i}`, peer: `p${i}` }, `warning ${i}`)
    r.error({ event: 'e', client: 7 }, 'an error')
    expect(inner.all.map((l) => l.fields.event)).toEqual(['i', 'w1', 'w2', 'w3', 'w4', 'w5', 'e'])
    expect(r.list()).toEqual([
      { t: 4, level: 'warn', event: 'w4', msg: 'warning 4', subject: 'p4' },
      { t: 5, level: 'warn', event: 'w5', msg: 'warning 5', subject: 'p5' },
      { t: 6, level: 'error', event: 'e', msg: 'an error', subject: 'client 7' },
    ])
  })
})

describe('log: what relays log', () => {
  it('links up and down with the peer and the reason; a relay that vanished: dial failures (1st, 2nd, 4th... only) and the verdict', async () => {
    const logs = [recorder(), recorder(), recorder()]
    const x = m = await memoryRelays(3, { init: (i) => ({ logger: logs[i]! }) })
    await x.runUntil(() => fullMesh(x.relays), 'a full mesh')
    const [a, , c] = x.relays as [typeof x.relays[0], typeof x.relays[0], typeof x.relays[0]]
    const of = (i: number, event: string): Logged[] => logs[i]!.all.filter((l) => l.fields.event === event)
    expect(of(0, 'link.up').map((l) => l.fields['peer']).sort()).toEqual([x.relays[1]!.nodeId, c.nodeId].sort())
    expect(of(0, 'link.up').every((l) => l.level === 'info' && ['inbound', 'outbound'].includes(l.fields['direction'] as string))).toBe(true)

    x.net.kill(c.nodeId)
    await x.runUntil(() => !a.status().peers.some((p) => p.nodeId === c.nodeId), 'relay 3 to leave relay 1\'s view')
    await x.run(20_000)
    const down = of(0, 'link.down').filter((l) => l.fields['peer'] === c.nodeId)
    expect(down).toHaveLength(1)
    expect(typeof down[0]!.fields['reason']).toBe('string')
    const dials = of(0, 'dial.failed').filter((l) => l.fields['peer'] === c.nodeId)
    expect(dials.length).toBeGreaterThan(0)
    expect(dials.every((l) => l.level === 'warn' && typeof l.fields['reason'] === 'string' && typeof l.fields['refused'] === 'boolean')).toBe(true)
    // Logged with back-off: the 1st, 2nd, 4th, 8th... failure in a row.
    expect(dials.map((l) => l.fields['failures'])).toEqual(dials.map((_, i) => 2 ** i))
    const verdicts = [0, 1].flatMap((i) => of(i, 'peer.dead')).filter((l) => l.fields['peer'] === c.nodeId)
    expect(verdicts.length).toBeGreaterThan(0)
    expect(a.status().recent.some((e) => e.event === 'dial.failed' && e.subject === c.nodeId)).toBe(true)
  })

  it('a client cut for a protocol error: client.cut with its id, the code and the reason', async () => {
    const log = recorder()
    const x = m = await memoryRelays(1, { init: () => ({ logger: log }) })
    const socket = x.relays[0]!.connectInProcess()
    socket.write(encodeFrame({ type: FrameType.ping, token: 1 })) // a frame, but not HELLO
    await until(() => log.all.some((l) => l.fields.event === 'client.cut'), 'the cut')
    await turns()
    const cut = log.all.find((l) => l.fields.event === 'client.cut')!
    expect(cut.level).toBe('warn')
    expect(cut.fields).toEqual({ event: 'client.cut', client: 1, code: 8, reason: 'expected HELLO as the first frame' })
  })
})
