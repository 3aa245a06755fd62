// The TypeScript SDK's sealing, for the Python key tests (tests/test_keys.py):
//   node seal.mjs seal KEY KIND NAME HEX      -> the sealed bytes, hex
//   node seal.mjs open KEY[,KEY...] KIND NAME HEX -> the plain bytes, hex (exit 1 with the error)
import { fileURLToPath } from 'node:url'
import { join } from 'node:path'

const root = join(fileURLToPath(import.meta.url), '../../../../..')
const { keyRing, seal, open } = await import(join(root, 'packages/client/dist/keys.js'))
const [what, keys, kind, name, hex] = process.argv.slice(2)
const ring = keyRing(keys.split(','))
try {
  const bytes = Buffer.from(hex, 'hex')
  const out = what === 'seal' ? seal(ring, Number(kind), name, bytes) : open(ring, Number(kind), name, bytes).plain
  process.stdout.write(Buffer.from(out).toString('hex'))
} catch (err) {
  process.stderr.write(`${err.name}: ${err.message}\n`)
  process.exit(1)
}
