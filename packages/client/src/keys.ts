import { randomBytes } from 'node:crypto'

/** A new 32-byte cluster key, as base64. */
export function generateClusterKey(): string {
  return randomBytes(32).toString('base64')
}
