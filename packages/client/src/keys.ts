import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto'
import { HeraldError, KeyError } from './errors.js'

/** A cluster or topic key: 32 random bytes, as bytes or base64. */
export type ClusterKey = Uint8Array | string
/** One key, or [sealKey, ...acceptedKeys] for rotation: the first seals, all of them open. */
export type ClusterKeys = ClusterKey | readonly ClusterKey[]

/** A new 32-byte cluster key, as base64. */
export function generateClusterKey(): string {
  return randomBytes(32).toString('base64')
}

interface Key {
  id: number
  bytes: Buffer
}

/** The keys of one cluster or topic: the first seals, every one opens. */
export interface KeyRing {
  readonly seal: Key
  readonly byId: ReadonlyMap<number, Key>
}

/** What is sealed: bound into the associated data, so a payload cannot be replayed as another kind. */
export const SealKind = { request: 1, reply: 2, broadcast: 3, event: 4, toMember: 5, toClient: 6 } as const
export type SealKind = (typeof SealKind)[keyof typeof SealKind]

const MAGIC = 0xa7
const NONCE = 12
const TAG = 16
/** Bytes a sealed payload adds: magic, key id, nonce, tag. */
export const SEAL_OVERHEAD = 1 + 4 + NONCE + TAG
const ALGORITHM = 'chacha20-poly1305'

function parseKey(k: ClusterKey): Key {
  const bytes = typeof k === 'string' ? Buffer.from(k, 'base64') : Buffer.from(k)
  if (bytes.length !== 32) throw new HeraldError('INVALID', `a cluster key must be 32 bytes (base64 of 32 bytes), got ${bytes.length}`)
  const id = createHash('sha256').update('herald-key-id:').update(bytes).digest().readUInt32BE(0)
  return { id, bytes }
}

export function keyRing(keys: ClusterKeys): KeyRing {
  const list = (Array.isArray(keys) ? keys : [keys]) as ClusterKey[]
  if (list.length === 0) throw new HeraldError('INVALID', 'an empty key list')
  const parsed = list.map(parseKey)
  return { seal: parsed[0]!, byId: new Map(parsed.map((k) => [k.id, k])) }
}

function aad(kind: SealKind, name: string): Buffer {
  return Buffer.concat([Buffer.from('herald-seal/1'), Buffer.from([kind]), Buffer.from(name, 'utf8')])
}

/** Seals a payload for `name` (a cluster or topic) with the ring's seal key (or the key `keyId`). */
export function seal(ring: KeyRing, kind: SealKind, name: string, plain: Uint8Array, keyId?: number): Uint8Array {
  const key = (keyId !== undefined ? ring.byId.get(keyId) : undefined) ?? ring.seal
  const nonce = randomBytes(NONCE)
  const c = createCipheriv(ALGORITHM, key.bytes, nonce, { authTagLength: TAG })
  c.setAAD(aad(kind, name), { plaintextLength: plain.length })
  const body = c.update(plain)
  c.final()
  const out = Buffer.allocUnsafe(SEAL_OVERHEAD + body.length)
  out[0] = MAGIC
  out.writeUInt32BE(key.id, 1)
  nonce.copy(out, 5)
  body.copy(out, 5 + NONCE)
  c.getAuthTag().copy(out, 5 + NONCE + body.length)
  return out
}

/** Opens a sealed payload; throws KeyError when it is not sealed, or not with one of our keys. */
export function open(ring: KeyRing, kind: SealKind, name: string, sealed: Uint8Array): { plain: Uint8Array; keyId: number } {
  const what = kind === SealKind.event ? `topic "${name}"` : `cluster "${name}"`
  if (sealed.length < SEAL_OVERHEAD || sealed[0] !== MAGIC) throw new KeyError(`a payload for ${what} is not sealed with a cluster key`)
  const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.length)
  const keyId = b.readUInt32BE(1)
  const key = ring.byId.get(keyId)
  if (key === undefined) throw new KeyError(`a payload for ${what} is sealed with a key this side does not have`)
  const d = createDecipheriv(ALGORITHM, key.bytes, b.subarray(5, 5 + NONCE), { authTagLength: TAG })
  const bodyLen = b.length - SEAL_OVERHEAD
  d.setAAD(aad(kind, name), { plaintextLength: bodyLen })
  d.setAuthTag(b.subarray(5 + NONCE + bodyLen))
  const plain = d.update(b.subarray(5 + NONCE, 5 + NONCE + bodyLen))
  try {
    d.final()
  } catch {
    throw new KeyError(`a payload for ${what} failed authentication (wrong key or tampered)`)
  }
  return { plain, keyId }
}
