/**
 * Patch 4 of overlay/libp2p-patches.ts on two real Noise sessions (a full XX handshake over
 * libp2p's in-memory connection pair): a message that arrived in pieces is decrypted without
 * first being copied whole, a small one still decrypts through the buffer its decrypter writes
 * into, and bytes sent through the patched session arrive intact. And the overlay stream hands a
 * yamux frame that spans decrypted messages on in pieces.
 */
import '../src/polyfill.js' // Promise.withResolvers for libp2p on Node 20
import { randomBytes } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { noise } from '@chainsafe/libp2p-noise'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { defaultLogger } from '@libp2p/logger'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { multiaddrConnectionPair } from '@libp2p/utils'
import type { MessageStream, Stream } from '@libp2p/interface'
import { Uint8ArrayList } from 'uint8arraylist'
import { decryptNoiseMessages, withNoiseDecryptPatch } from '../src/overlay/libp2p-patches.js'
import { Libp2pByteStream } from '../src/overlay/libp2p-stream.js'

type Encrypted = MessageStream & {
  encrypt(chunk: Uint8Array): Uint8ArrayList
  decrypt(chunk: Uint8Array | Uint8ArrayList): Uint8ArrayList
  handshake: { decrypt(ciphertext: unknown, dst?: Uint8Array): Uint8Array | Uint8ArrayList }
}

async function session(): Promise<{ client: Encrypted; server: Encrypted }> {
  const [outbound, inbound] = multiaddrConnectionPair()
  const keyA = await generateKeyPair('Ed25519')
  const keyB = await generateKeyPair('Ed25519')
  const encrypter = (privateKey: typeof keyA): ReturnType<ReturnType<typeof noise>> =>
    withNoiseDecryptPatch(noise())({ privateKey, logger: defaultLogger(), upgrader: { getStreamMuxers: () => new Map() } } as never)
  const [a, b] = await Promise.all([
    encrypter(keyA).secureOutbound(outbound, { remotePeer: peerIdFromPrivateKey(keyB), skipStreamMuxerNegotiation: true }),
    encrypter(keyB).secureInbound(inbound, { skipStreamMuxerNegotiation: true }),
  ])
  return { client: a.connection as Encrypted, server: b.connection as Encrypted }
}

/** One Noise message (the length prefix dropped) cut into `pieces` parts, as TCP reads would deliver it. */
function cut(message: Uint8ArrayList, pieces: number): Uint8ArrayList {
  const bytes = message.subarray(2)
  const out = new Uint8ArrayList()
  const step = Math.ceil(bytes.length / pieces)
  for (let i = 0; i < bytes.length; i += step) out.append(Uint8Array.prototype.slice.call(bytes, i, i + step))
  return out
}

/** Records the plaintext buffer offered to the decrypter for each message. */
function spyDst(stream: Encrypted): Array<Uint8Array | undefined> {
  const seen: Array<Uint8Array | undefined> = []
  const h = stream.handshake
  const decrypt = h.decrypt.bind(h)
  h.decrypt = (ciphertext, dst) => {
    seen.push(dst)
    return decrypt(ciphertext, dst)
  }
  return seen
}

describe('Noise decrypt without a copy (patch 4)', () => {
  it('is installed on the secured connection', async () => {
    const { client, server } = await session()
    expect(server.decrypt).toBe(decryptNoiseMessages)
    expect(client.decrypt).toBe(decryptNoiseMessages)
  })

  it('decrypts a large message that came in pieces, offering no copy of it', async () => {
    const { client, server } = await session()
    const seen = spyDst(server)
    const plain = randomBytes(60_000)
    const out = server.decrypt(cut(client.encrypt(plain), 3))
    expect(Buffer.from(out.subarray()).equals(plain)).toBe(true)
    // Unpatched, this is a fresh 60 KB copy of the ciphertext (the pieces joined).
    expect(seen).toEqual([undefined])
  })

  it('decrypts a small message that came in pieces through the buffer its decrypter writes into', async () => {
    const { client, server } = await session()
    const seen = spyDst(server)
    const plain = randomBytes(300)
    const out = server.decrypt(cut(client.encrypt(plain), 2))
    expect(Buffer.from(out.subarray()).equals(plain)).toBe(true)
    expect(seen).toHaveLength(1)
    expect(seen[0]?.length).toBe(300)
  })

  it('rejects a message that was tampered with', async () => {
    const { client, server } = await session()
    const message = cut(client.encrypt(randomBytes(5000)), 2)
    const piece = message.get(100)
    message.set(100, piece ^ 1)
    expect(() => server.decrypt(message)).toThrow()
  })

  it('carries a stream of mixed sizes intact, both ways', async () => {
    const { client, server } = await session()
    const sizes = [1, 17, 1199, 1200, 1201, 4096, 65_519, 65_520, 200_000, 3]
    const sent = sizes.map((n) => randomBytes(n))
    const total = sizes.reduce((a, b) => a + b, 0)
    const received = (stream: MessageStream): Promise<Buffer> => new Promise((resolve) => {
      const got = new Uint8ArrayList()
      stream.addEventListener('message', (e) => {
        got.append(e.data.subarray())
        if (got.byteLength >= total) resolve(Buffer.from(got.subarray()))
      })
    })
    const atServer = received(server)
    const atClient = received(client)
    for (const b of sent) {
      client.send(b)
      server.send(b)
    }
    const expected = Buffer.concat(sent)
    expect((await atServer).equals(expected)).toBe(true)
    expect((await atClient).equals(expected)).toBe(true)
  })
})

describe('Libp2pByteStream', () => {
  it('hands a message that came as a list on piece by piece, never joined', () => {
    const target = new EventTarget()
    const stream = new Libp2pByteStream(target as unknown as Stream, 'link', 'peer')
    const got: Uint8Array[] = []
    stream.attach({ message: (b) => got.push(b), drain: () => {}, remoteClose: () => {}, close: () => {} })
    const pieces = [randomBytes(10), randomBytes(20), randomBytes(30)]
    const whole = randomBytes(5)
    target.dispatchEvent(Object.assign(new Event('message'), { data: new Uint8ArrayList(...pieces) }))
    target.dispatchEvent(Object.assign(new Event('message'), { data: whole }))
    expect(got).toHaveLength(4)
    pieces.forEach((p, i) => expect(got[i]).toBe(p))
    expect(got[3]).toBe(whole)
  })
})
