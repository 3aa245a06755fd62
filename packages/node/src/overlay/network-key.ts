import { createHash, randomBytes } from 'node:crypto'
import { readFileSync, statSync, writeFileSync } from 'node:fs'

/** The header line of a Herald network key file; the second line is 32 random bytes in base64. */
export const KEY_FILE_HEADER = 'herald-network-key/1'

export class KeyFileError extends Error {
  override readonly name = 'KeyFileError'
}

/** A new network key file's text. */
export function newNetworkKeyText(): string {
  return `${KEY_FILE_HEADER}\n${randomBytes(32).toString('base64')}\n`
}

/** Writes a new key file with mode 0600 (never overwriting an existing file). */
export function writeNetworkKeyFile(path: string): void {
  writeFileSync(path, newNetworkKeyText(), { mode: 0o600, flag: 'wx' })
}

/** Reads and checks a key file: its format, and that other users cannot read it. */
export function readNetworkKeyFile(path: string): Uint8Array {
  let st
  try {
    st = statSync(path)
  } catch (err) {
    throw new KeyFileError(`cannot read the key file ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`)
  }
  if ((st.mode & 0o077) !== 0) {
    throw new KeyFileError(`the key file ${path} is readable by other users (mode ${(st.mode & 0o777).toString(8)}); run: chmod 600 ${path}`)
  }
  const lines = readFileSync(path, 'utf8').trim().split(/\r?\n/)
  const key = lines[1] === undefined ? undefined : Buffer.from(lines[1].trim(), 'base64')
  if (lines[0] !== KEY_FILE_HEADER || key === undefined || key.length !== 32 || lines.length !== 2) {
    throw new KeyFileError(`the key file ${path} is malformed: expected "${KEY_FILE_HEADER}" and a base64 32-byte key (make one with \`herald keygen\`)`)
  }
  return new Uint8Array(key)
}

/** The insecure key of --dev: derived from the network name, so anyone can compute it. */
export function devNetworkKey(network: string): Uint8Array {
  return new Uint8Array(createHash('sha256').update(`herald-dev-key:${network}`).digest())
}

/**
 * The bytes bound into every Noise handshake (its prologue): a relay without the same key
 * and network name cannot complete a connection.
 */
export function noisePrologue(network: string, key: Uint8Array): Uint8Array {
  return new Uint8Array(createHash('sha256').update('herald-net/1:').update(network).update(':').update(key).digest())
}
