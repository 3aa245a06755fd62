/**
 * Label values come from clients (cluster and topic names) and other relays (peer ids): none
 * of them may break the exposition. A value is cut to MAX_LABEL_LENGTH, and what is not
 * well-formed UTF-16 (a lone surrogate: not encodable as UTF-8) or a control character becomes
 * U+FFFD. Quotes, backslashes and newlines are escaped by prom-client.
 */

export const MAX_LABEL_LENGTH = 100

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g
// eslint-disable-next-line no-control-regex -- control characters are what this removes
const CONTROL = /[\u0000-\u001f\u007f]/g

/** `value` as a safe label value: at most MAX_LABEL_LENGTH UTF-16 units, well-formed, no controls. */
export function labelValue(value: string): string {
  // Cutting may split a surrogate pair: the half left over is lone and is replaced below.
  const cut = value.length > MAX_LABEL_LENGTH ? value.slice(0, MAX_LABEL_LENGTH) : value
  return cut.replace(LONE_SURROGATE, '\uFFFD').replace(CONTROL, '\uFFFD')
}

/**
 * Sums rows whose labels are equal once made safe (two long names cut to the same prefix):
 * the exposition must never hold the same series twice.
 */
export function mergeRows<T>(rows: Iterable<[string, T]>, add: (into: T, from: T) => T): Map<string, T> {
  const out = new Map<string, T>()
  for (const [name, v] of rows) {
    const label = labelValue(name)
    const prev = out.get(label)
    out.set(label, prev === undefined ? v : add(prev, v))
  }
  return out
}
