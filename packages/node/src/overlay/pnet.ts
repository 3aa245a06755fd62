import { createHash } from 'node:crypto'
import { createRequire } from 'node:module'
import { preSharedKey } from '@libp2p/pnet'

/**
 * xsalsa20@1.2.0 (used by @libp2p/pnet) keeps every cipher in one WebAssembly.Memory. After
 * an update larger than ~640 KB grows it, the other ciphers' views are detached, and from then
 * on each call grows the memory again until it hits the cap and throws (libp2p-v3-notes.md).
 * The fix: refresh a detached view (grow(0) adds no pages but gives a fresh buffer) before
 * each update. Idempotent; applied before any pnet use.
 */
export function fixXsalsa20(): void {
  const require = createRequire(import.meta.url)
  // Resolve xsalsa20 as @libp2p/pnet does, so the same module instance is patched.
  const pnetRequire = createRequire(require.resolve('@libp2p/pnet'))
  const xs = pnetRequire('xsalsa20') as (nonce: Uint8Array, key: Uint8Array) => { _xor: object }
  const proto = Object.getPrototypeOf(xs(new Uint8Array(24), new Uint8Array(32))._xor) as {
    realloc?: (this: { _memory: Uint8Array }, size: number) => void
    update: (this: { _memory: Uint8Array }, input: Uint8Array, output: Uint8Array) => void
    __heraldFixed?: boolean
  }
  if (typeof proto.realloc !== 'function' || proto.__heraldFixed === true) return
  const { realloc, update } = proto
  proto.update = function (input, output) {
    if (this._memory.length === 0) realloc.call(this, 0)
    return update.call(this, input, output)
  }
  proto.__heraldFixed = true
}

/** The pnet pre-shared key of --cloak, derived from the network key and name. */
export function cloakProtector(network: string, key: Uint8Array): ReturnType<typeof preSharedKey> {
  fixXsalsa20()
  const hex = createHash('sha256').update('herald-pnet/1:').update(network).update(':').update(key).digest('hex')
  return preSharedKey({ psk: new TextEncoder().encode(`/key/swarm/psk/1.0.0/\n/base16/\n${hex}`) })
}
