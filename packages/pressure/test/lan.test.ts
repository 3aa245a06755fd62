/**
 * Kernel mode with real traffic: three hosts in network namespaces, TCP and UDP between them
 * under kernel loss, duplication, partitions and bandwidth limits, checked byte for byte
 * (sha256 of what was sent and what came back) and by the kernel's own counters.
 *
 * Needs root, iproute2 and nftables. In CI (CI=true) a missing piece fails the test; elsewhere
 * the test is skipped and its name says why.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync, spawn } from 'node:child_process'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLan, lanUnavailable, sweepStaleLans, type Lan, type LanProcess } from '../src/index.js'

const unavailable = lanUnavailable()
const HERE = fileURLToPath(new URL('.', import.meta.url))
const TOOL = join(HERE, 'fixtures/net-tool.mjs')
const DIST = join(HERE, '../dist/index.js')
const PORT = '7000'

interface Done { event: 'done'; bytes: number; sent: string; received: string; ms: number }
type Outcome = Done | { event: 'timeout' } | { event: 'error'; code: string }

const namespaces = (): string[] => execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).split('\n').map((l) => l.split(' ')[0]!).filter((n) => n !== '')

if (unavailable !== undefined) {
  describe('kernel mode (network namespaces)', () => {
    if (process.env['CI'] === 'true') {
      it('has what it needs to run (root, ip, nft, tc)', () => {
        throw new Error(`kernel mode cannot be tested in CI: ${unavailable}`)
      })
    } else {
      it.skip(`SKIPPED: ${unavailable}`, () => {})
    }
  })
} else {
  describe('kernel mode (network namespaces)', () => {
    let lan: Lan

    const tool = (host: number, args: string[]): LanProcess => lan.spawn(host, [process.execPath, TOOL, ...args])

    /** An echo round trip of `bytes` from `from` to host `to`'s echo server. */
    async function echo(from: number, to: number, bytes: number, connectTimeoutMs = 10_000): Promise<Outcome> {
      const p = tool(from, ['tcp-send', lan.hosts[to]!.ip, PORT, String(bytes), String(from * 10 + to), String(connectTimeoutMs)])
      return p.waitLine<Outcome>((x) => typeof x.event === 'string', { timeoutMs: 60_000, what: 'the transfer to end' })
    }

    async function intact(from: number, to: number, bytes: number): Promise<Done> {
      const r = await echo(from, to, bytes)
      expect(r.event).toBe('done')
      const d = r as Done
      expect(d.bytes).toBe(bytes)
      expect(d.received).toBe(d.sent)
      return d
    }

    /** How many of `n` UDP datagrams from `from` reach `to`. */
    async function udp(from: number, to: number, n: number): Promise<number> {
      const recv = tool(to, ['udp-recv', '7001'])
      await recv.waitLine((x) => x['event'] === 'ready')
      await tool(from, ['udp-send', lan.hosts[to]!.ip, '7001', String(n)]).waitLine((x) => x['event'] === 'sent')
      recv.child.stdin!.write('count\n')
      const { n: got } = await recv.waitLine<{ event: string; n: number }>((x) => x.event === 'count')
      recv.kill()
      return got
    }

    beforeAll(async () => {
      lan = createLan(3)
      for (const h of [1, 2]) await tool(h, ['tcp-echo', PORT]).waitLine((x) => x['event'] === 'ready')
    }, 30_000)
    afterAll(() => lan?.close())

    it('hosts reach each other on their own addresses', async () => {
      expect(lan.hosts.map((h) => h.ip)).toEqual(['10.77.0.1', '10.77.0.2', '10.77.0.3'])
      await intact(0, 1, 100_000)
      await intact(0, 2, 100_000)
    })

    it('10% loss both ways: TCP still delivers every byte intact, and the kernel dropped packets', async () => {
      lan.shape([0, 1], { loss: 0.1 })
      try {
        await intact(0, 1, 1_000_000)
        const c = lan.counters()
        expect(c['loss 1>2']).toBeGreaterThan(10)
        expect(c['loss 2>1']).toBeGreaterThan(10)
        expect(c['loss 1>3'] ?? 0).toBe(0)
      } finally {
        lan.clear()
      }
    })

    it('duplication to the same destination: UDP datagrams arrive twice, TCP stays intact', async () => {
      lan.shape({ from: 0, to: 1 }, { duplicate: 0.3 })
      try {
        const got = await udp(0, 1, 1000)
        expect(got).toBeGreaterThan(1000)
        expect(got).toBeLessThanOrEqual(2000)
        expect(lan.counters()['dup 1>2']).toBeGreaterThan(0)
        await intact(0, 1, 300_000)
      } finally {
        lan.clear()
      }
    })

    it('a partition blackholes both ways (a connect times out, no reset) and spares other hosts; heal restores', async () => {
      lan.partition([0, 1])
      try {
        expect(await echo(0, 1, 1000, 1500)).toEqual({ event: 'timeout' })
        await intact(0, 2, 50_000)
        expect(lan.counters()['partition 1>2']).toBeGreaterThan(0)
      } finally {
        lan.heal()
      }
      await intact(0, 1, 50_000)
    })

    it('a one-way partition blocks one direction only', async () => {
      lan.partition({ from: 0, to: 1 })
      try {
        expect(await udp(0, 1, 200)).toBe(0)
        expect(await udp(1, 0, 200)).toBeGreaterThan(0)
      } finally {
        lan.heal()
      }
    })

    it('tbf limits what a host sends and receives', async () => {
      lan.shape(0, { bandwidth: 250_000 })
      try {
        const d = await intact(0, 1, 500_000)
        // 500 kB at 250 kB/s cannot take less than about two seconds (a lower bound only).
        expect(d.ms).toBeGreaterThanOrEqual(1500)
      } finally {
        lan.clear()
      }
    })

    it('a limit on one path (htb) slows that path; other traffic takes the default class', async () => {
      lan.shape({ from: 0, to: 1 }, { bandwidth: 250_000 })
      try {
        expect((await intact(0, 1, 500_000)).ms).toBeGreaterThanOrEqual(1500)
        await intact(0, 2, 500_000)
        const classes = lan.exec(0, ['tc', '-s', 'class', 'show', 'dev', 'eth0'])
        const sent = (id: string): number => Number(new RegExp(`class htb ${id} [^]*?Sent (\\d+) bytes`).exec(classes)?.[1] ?? -1)
        expect(sent('1:11')).toBeGreaterThanOrEqual(500_000)
        expect(sent('1:2')).toBeGreaterThanOrEqual(500_000)
      } finally {
        lan.clear()
      }
    })

    it('refuses impossible shaping with a clear error', () => {
      expect(() => lan.shape(0, { loss: 1.5 })).toThrow(/^loss must be at least 0 and below 1, got 1.5$/)
      expect(() => lan.shape(0, { bandwidth: 0 })).toThrow(/^bandwidth must be greater than 0/)
      expect(() => lan.partition(7)).toThrow(/^no host 7 on this LAN/)
    })

    it('destroy kills the processes in a LAN and removes every namespace', async () => {
      const small = createLan({ hosts: 2 })
      const p = small.spawn(1, [process.execPath, '-e', 'setInterval(() => {}, 1000)'])
      expect(namespaces().filter((n) => n.startsWith(small.id))).toHaveLength(3)
      small.destroy()
      expect(await p.exited).toBe('SIGKILL')
      expect(namespaces().filter((n) => n.startsWith(small.id))).toEqual([])
    })

    it('the LAN of a process killed with SIGKILL is swept away', async () => {
      const owner = spawn(process.execPath, ['-e', `import(${JSON.stringify(DIST)}).then((m) => { console.log(m.createLan(2).id); setInterval(() => {}, 1000) })`], { stdio: ['ignore', 'pipe', 'inherit'] })
      const id = await new Promise<string>((r) => owner.stdout!.setEncoding('utf8').once('data', (s: string) => r(s.trim())))
      expect(namespaces().filter((n) => n.startsWith(id))).toHaveLength(3)
      owner.kill('SIGKILL')
      await new Promise((r) => owner.once('exit', r))
      expect(namespaces().filter((n) => n.startsWith(id))).toHaveLength(3)
      expect(sweepStaleLans().sort()).toEqual([`${id}-b`, `${id}-h1`, `${id}-h2`])
      expect(namespaces().filter((n) => n.startsWith(id))).toEqual([])
      expect(namespaces().filter((n) => n.startsWith(lan.id))).toHaveLength(4)
    })
  })
}
