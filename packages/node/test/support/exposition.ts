/**
 * A reader of the Prometheus text format, strict enough for tests: every line is a comment
 * (# HELP / # TYPE), blank, or one sample `name{label="value",...} number`; anything else
 * throws. Label values are unescaped (\\, \", \n).
 */
export interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)/y

export function parseExposition(text: string): Sample[] {
  const out: Sample[] = []
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('# HELP ') || line.startsWith('# TYPE ')) continue
    const m = SAMPLE.exec(line)
    if (m === null) throw new Error(`not a sample line: ${JSON.stringify(line)}`)
    const labels: Record<string, string> = {}
    const body = m[3] ?? ''
    LABEL.lastIndex = 0
    while (LABEL.lastIndex < body.length) {
      const l = LABEL.exec(body)
      if (l === null) throw new Error(`bad labels in ${JSON.stringify(line)}`)
      labels[l[1]!] = l[2]!.replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
    }
    // Go's ParseFloat (Prometheus) takes Inf and NaN in any case; prom-client writes "Nan".
    const v = m[4]!.toLowerCase()
    const value = v === '+inf' || v === 'inf' ? Infinity : v === '-inf' ? -Infinity : v === 'nan' ? NaN : Number(m[4])
    if (Number.isNaN(value) && v !== 'nan') throw new Error(`bad value in ${JSON.stringify(line)}`)
    out.push({ name: m[1]!, labels, value })
  }
  return out
}

/** The value of the one sample `name` with exactly these labels (and any others given as undefined ignored); undefined when absent. */
export function valueOf(samples: Sample[], name: string, labels: Record<string, string> = {}): number | undefined {
  const found = samples.filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v) &&
    Object.keys(s.labels).length === Object.keys(labels).length)
  if (found.length > 1) throw new Error(`${found.length} samples of ${name} ${JSON.stringify(labels)}`)
  return found[0]?.value
}

/** Every value of label `label` among the samples of `name`. */
export function labelValues(samples: Sample[], name: string, label: string): string[] {
  return [...new Set(samples.filter((s) => s.name === name).map((s) => s.labels[label]!).filter((v) => v !== undefined))]
}

/** Series (name + labels) that occur more than once: a broken exposition. */
export function duplicates(samples: Sample[]): string[] {
  const seen = new Map<string, number>()
  for (const s of samples) {
    const key = `${s.name}{${Object.entries(s.labels).sort().map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(',')}}`
    seen.set(key, (seen.get(key) ?? 0) + 1)
  }
  return [...seen].filter(([, n]) => n > 1).map(([k]) => k)
}
