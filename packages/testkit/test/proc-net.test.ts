import { afterAll, describe, expect, it } from 'vitest'
import { createServer, connect, type Server, type Socket } from 'node:net'
import { listeningPorts, ownerOfConnection, parseProcNetTcp } from '../src/proc-net.js'

const SAMPLE = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:AB97 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 642215 1 00000000c02fbfdd 100 0 0 10 0
   1: 0100007F:9C40 0100007F:AB97 01 00000000:00000000 00:00000000 00000000     0        0 643001 1 0000000000000000 20 4 30 10 -1
garbage line
`
const SAMPLE6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:1F90 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 12345 1 0000000000000000 100 0 0 10 0
`

const servers: Server[] = []
const sockets: Socket[] = []
afterAll(() => {
  for (const s of sockets) s.destroy()
  for (const s of servers) s.close()
})

describe('/proc/net/tcp', () => {
  it('parses ports (hex), state and inode, IPv4 and IPv6; skips the header and junk', () => {
    expect(parseProcNetTcp(SAMPLE)).toEqual([
      { localPort: 0xab97, remotePort: 0, state: 0x0a, inode: '642215' },
      { localPort: 0x9c40, remotePort: 0xab97, state: 0x01, inode: '643001' },
    ])
    expect(parseProcNetTcp(SAMPLE6)).toEqual([{ localPort: 8080, remotePort: 0, state: 0x0a, inode: '12345' }])
    expect(parseProcNetTcp('')).toEqual([])
  })

  it('finds the ports this process listens on, and which process holds the client end of a connection', async () => {
    const server = createServer((s) => sockets.push(s))
    servers.push(server)
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
    const port = (server.address() as { port: number }).port
    expect(listeningPorts(process.pid)).toContain(port)
    const client = connect({ port, host: '127.0.0.1' })
    sockets.push(client)
    await new Promise<void>((r) => client.once('connect', () => r()))
    expect(ownerOfConnection(client.localPort!, port, [999_999_999, process.pid])).toBe(process.pid)
    // A pair nobody holds has no owner, nor one held by a process not asked about.
    expect(ownerOfConnection(1, 2, [process.pid])).toBeUndefined()
    expect(ownerOfConnection(client.localPort!, port, [999_999_999])).toBeUndefined()
  })
})
