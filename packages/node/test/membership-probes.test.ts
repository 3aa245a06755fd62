// The indirect probe (SWIM's ping-req) as a prober runs it, in memory: Suspicions with a host
// that records what it sends. The network around it is the simulator's business
// (membership.test.ts); here, what a prober answers and when.
import { describe, it, expect } from 'vitest'
import { Suspicions, type ProbeHost } from '../src/directory/membership-probes.js'
import { DEFAULT_MEMBERSHIP, type ControlMessage, type NodeId } from '../src/directory/membership-types.js'

function prober(): { s: Suspicions; sent: Array<[NodeId, ControlMessage]>; clock: { now: number } } {
  const clock = { now: 1000 }
  const sent: Array<[NodeId, ControlMessage]> = []
  const host: ProbeHost = {
    config: DEFAULT_MEMBERSHIP,
    now: () => clock.now,
    random: () => 0.5,
    slowness: () => ({ scale: 1, rto: 10 }),
    linked: () => true,
    inView: () => true,
    watching: (node) => node === 'suspect',
    neighborCount: () => 2,
    // A lossy WAN link: answers may take seconds.
    rtoOf: () => 2000,
    send: (peer, msg) => { sent.push([peer, msg]) },
    connect: () => {},
    release: () => {},
    declareDead: () => {},
    cleared: () => {},
  }
  return { s: new Suspicions(host), sent, clock }
}

const replies = (sent: Array<[NodeId, ControlMessage]>): ControlMessage[] => sent.filter(([p, m]) => p === 'asker' && m.t === 'probe-reply').map(([, m]) => m)

describe('indirect probes (the prober)', () => {
  it('answers "alive" as soon as any frame from the suspect arrives, before the probe\'s own ack', () => {
    const { s, sent, clock } = prober()
    s.onProbeReq('asker', 'suspect', 7)
    expect(sent).toContainEqual(['suspect', expect.objectContaining({ t: 'probe' })])
    expect(replies(sent)).toEqual([])
    // The ack sits behind a retransmission; a frame the suspect sent on another stream arrives.
    clock.now += 300
    s.heard('suspect')
    expect(replies(sent)).toEqual([{ t: 'probe-reply', node: 'suspect', seq: 7, alive: true }])
    // The late ack, and the deadline, add nothing: one answer per request.
    s.onProbeAck('suspect', 1)
    clock.now += 10_000
    s.tick(clock.now)
    expect(replies(sent)).toHaveLength(1)
  })

  it('a frame from another relay answers nothing; silence until the deadline answers "silent"', () => {
    const { s, sent, clock } = prober()
    s.onProbeReq('asker', 'suspect', 9)
    clock.now += 300
    s.heard('someone-else')
    s.tick(clock.now)
    expect(replies(sent)).toEqual([])
    // The wait is four of the suspect's retransmission timeouts (2 s each here).
    clock.now += 7_600
    s.tick(clock.now)
    expect(replies(sent)).toEqual([])
    clock.now += 100
    s.tick(clock.now)
    expect(replies(sent)).toEqual([{ t: 'probe-reply', node: 'suspect', seq: 9, alive: false }])
  })

  it('a frame handled in the same instant as the request may predate it and does not count', () => {
    const { s, sent, clock } = prober()
    s.onProbeReq('asker', 'suspect', 3)
    s.heard('suspect')
    expect(replies(sent)).toEqual([])
    clock.now += 1
    s.heard('suspect')
    expect(replies(sent)).toEqual([{ t: 'probe-reply', node: 'suspect', seq: 3, alive: true }])
  })
})
