/**
 * Small line charts as standalone SVG (for docs/: no plotting dependency, no network, text
 * diffs in git). Each panel: one or more series over a shared x axis, linear or log scale.
 */
export interface Series {
  name: string
  points: Array<[number, number]>
}

export interface Panel {
  title: string
  xLabel: string
  yLabel: string
  series: Series[]
  logX?: boolean
  /** Start the y axis at 0 (default true). */
  yFromZero?: boolean
}

const W = 360
const H = 240
const PAD = { left: 56, right: 16, top: 28, bottom: 42 }
const COLORS = ['#2563eb', '#dc2626', '#16a34a', '#9333ea', '#ea580c']

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function niceTicks(lo: number, hi: number, n = 5): number[] {
  if (hi <= lo) return [lo]
  const step0 = (hi - lo) / n
  const mag = 10 ** Math.floor(Math.log10(step0))
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= step0) ?? step0
  const out: number[] = []
  for (let v = Math.ceil(lo / step) * step; v <= hi + 1e-9; v += step) out.push(Number(v.toPrecision(6)))
  return out
}

function fmt(v: number): string {
  if (Math.abs(v) >= 1000) return `${Number((v / 1000).toPrecision(3))}k`
  return String(Number(v.toPrecision(3)))
}

function panel(p: Panel, ox: number): string {
  const xs = p.series.flatMap((s) => s.points.map((q) => q[0]))
  const ys = p.series.flatMap((s) => s.points.map((q) => q[1]))
  const tx = (x: number): number => (p.logX === true ? Math.log10(x) : x)
  const x0 = Math.min(...xs.map(tx))
  const x1 = Math.max(...xs.map(tx))
  const y0 = p.yFromZero === false ? Math.min(...ys) : Math.min(0, ...ys)
  const y1 = Math.max(...ys) * 1.1 || 1
  const px = (x: number): number => ox + PAD.left + ((tx(x) - x0) / (x1 - x0 || 1)) * (W - PAD.left - PAD.right)
  const py = (y: number): number => H - PAD.bottom - ((y - y0) / (y1 - y0 || 1)) * (H - PAD.top - PAD.bottom)
  const parts: string[] = []
  parts.push(`<text x="${ox + W / 2}" y="16" text-anchor="middle" font-size="13" font-weight="bold">${esc(p.title)}</text>`)
  parts.push(`<line x1="${ox + PAD.left}" y1="${H - PAD.bottom}" x2="${ox + W - PAD.right}" y2="${H - PAD.bottom}" stroke="#333"/>`)
  parts.push(`<line x1="${ox + PAD.left}" y1="${PAD.top}" x2="${ox + PAD.left}" y2="${H - PAD.bottom}" stroke="#333"/>`)
  const xTicks = p.logX === true ? [...new Set(xs)].sort((a, b) => a - b) : niceTicks(x0, x1)
  for (const t of xTicks) {
    parts.push(`<text x="${px(t)}" y="${H - PAD.bottom + 14}" text-anchor="middle" font-size="10">${fmt(t)}</text>`)
  }
  for (const t of niceTicks(y0, y1)) {
    parts.push(`<line x1="${ox + PAD.left}" y1="${py(t)}" x2="${ox + W - PAD.right}" y2="${py(t)}" stroke="#eee"/>`)
    parts.push(`<text x="${ox + PAD.left - 4}" y="${py(t) + 3}" text-anchor="end" font-size="10">${fmt(t)}</text>`)
  }
  parts.push(`<text x="${ox + PAD.left + (W - PAD.left - PAD.right) / 2}" y="${H - 8}" text-anchor="middle" font-size="11">${esc(p.xLabel)}</text>`)
  parts.push(`<text x="${ox + 12}" y="${(PAD.top + H - PAD.bottom) / 2}" text-anchor="middle" font-size="11" transform="rotate(-90 ${ox + 12} ${(PAD.top + H - PAD.bottom) / 2})">${esc(p.yLabel)}</text>`)
  p.series.forEach((s, k) => {
    const color = COLORS[k % COLORS.length]!
    const pts = s.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(' ')
    parts.push(`<polyline fill="none" stroke="${color}" stroke-width="2" points="${pts}"/>`)
    for (const [x, y] of s.points) parts.push(`<circle cx="${px(x).toFixed(1)}" cy="${py(y).toFixed(1)}" r="3" fill="${color}"/>`)
    if (p.series.length > 1) {
      parts.push(`<text x="${ox + PAD.left + 8}" y="${PAD.top + 12 + 13 * k}" font-size="10" fill="${color}">${esc(s.name)}</text>`)
    }
  })
  return parts.join('\n')
}

/** Panels side by side in one SVG document. */
export function chart(panels: Panel[]): string {
  const width = W * panels.length
  const body = panels.map((p, k) => panel(p, k * W)).join('\n')
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${H}" viewBox="0 0 ${width} ${H}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n${body}\n</svg>\n`
}
