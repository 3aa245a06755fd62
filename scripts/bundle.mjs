#!/usr/bin/env node
// Bundles the herald command (packages/cli/dist, compiled by `tsc -b`) into
// packages/cli/bundle/: one script and a few lazily loaded chunks, instead of ~700 modules.
// Why: a relay loaded from node_modules keeps every module's source text, record and loader
// bookkeeping for its whole life. Bundled, an idle relay's RSS is ~12 MiB smaller
// (docs/performance.md, "Where an idle relay's memory goes"). Whitespace and syntax are
// minified, identifiers are not, so stack traces stay readable (esbuild's keepNames cost 2 MiB
// and nothing here reads a function's .name; full minification saved 0.5 MiB more and made
// traces unreadable); linked source maps map them back to the TypeScript
// (`node --enable-source-maps`).
//
// The SDK packages (@herald/node, @herald/client, ...) are not bundled for their users: only the
// command is.
import { rmSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build } from 'esbuild'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const cli = join(root, 'packages/cli')

/**
 * @libp2p/peer-store and @libp2p/peer-record sort a peer's protocols, metadata keys and
 * addresses with String#localeCompare, only to keep them in a fixed order. The first
 * localeCompare loads ICU's collation data: ~3 MiB of RSS in every relay, to sort ASCII
 * protocol names and multiaddrs. In the bundle these sorts compare code units instead (a fixed
 * order too; it only ever meets the same process's sorts). The build fails if a localeCompare
 * is left in those packages or none is found, so an upgrade is looked at again.
 */
const LOCALE_COMPARE = /([\w.]+(?:\(\))?)\.localeCompare\(([\w.]+(?:\(\))?)\)/g
const codeUnitSort = {
  name: 'code-unit-sort',
  setup(b) {
    let replaced = 0
    b.onLoad({ filter: /@libp2p[\\/]peer-(store|record)[\\/]dist[\\/]src[\\/].*\.js$/ }, async (args) => {
      const text = await readFile(args.path, 'utf8')
      if (!text.includes('localeCompare')) return undefined
      const contents = text.replace(LOCALE_COMPARE, (_, a, b) => { replaced++; return `__heraldCompare(${a}, ${b})` })
      if (contents.includes('localeCompare')) throw new Error(`${args.path}: a localeCompare scripts/bundle.mjs cannot rewrite`)
      return { contents: `${contents}\nfunction __heraldCompare(a, b) { return a < b ? -1 : a > b ? 1 : 0 }\n`, loader: 'js' }
    })
    b.onEnd(() => {
      if (replaced === 0) throw new Error('no localeCompare found in @libp2p/peer-store or peer-record: look at scripts/bundle.mjs')
    })
  },
}

const started = Date.now()
const outdir = join(cli, 'bundle')
rmSync(outdir, { recursive: true, force: true })
await build({
  entryPoints: {
    main: join(cli, 'dist/main.js'),
    // `herald bench` runs its clients in worker threads: new URL('./worker.js', import.meta.url).
    worker: join(cli, 'dist/bench/worker.js'),
  },
  outdir,
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minifyWhitespace: true,
  minifySyntax: true,
  sourcemap: 'linked',
  logLevel: 'warning',
  // @libp2p/pnet stays in node_modules: overlay/pnet.ts patches the xsalsa20 instance that
  // @libp2p/pnet requires from there (loaded only with a pre-shared key).
  external: ['@libp2p/pnet'],
  // Bundled CommonJS (commander, pino) calls require() for Node's built-ins.
  banner: { js: "import { createRequire as __heraldRequire } from 'node:module'; const require = __heraldRequire(import.meta.url);" },
  plugins: [codeUnitSort],
})
if (process.env.HERALD_BUNDLE_QUIET === undefined) console.error(`herald: bundled the CLI into packages/cli/bundle/ (${Date.now() - started} ms)`)
