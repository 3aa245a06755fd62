import { Command } from 'commander'
import { newNetworkKeyText, writeNetworkKeyFile } from '@herald/node'
import { writeOut } from '../util.js'

export function keygenCommand(): Command {
  return new Command('keygen')
    .usage('[--out F]')
    .description(`Makes a new network key: 32 random bytes, as a small text file (a header line, then the key
in base64). Every relay of a network needs the same key file; keep it secret.
With --out the key is written to F with mode 0600 (an existing file is never overwritten);
otherwise it is printed on stdout.`)
    .option('-o, --out <F>', 'write the key to F (mode 0600) instead of stdout')
    .action(async (opts: { out?: string }) => {
      if (opts.out === undefined) {
        await writeOut(newNetworkKeyText())
        return
      }
      try {
        writeNetworkKeyFile(opts.out)
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code
        throw new Error(code === 'EEXIST' ? `${opts.out} exists; not overwriting it` : `cannot write ${opts.out}: ${code ?? String(err)}`)
      }
      process.stderr.write(`herald: wrote a new network key to ${opts.out} (mode 0600)\n`)
    })
}
