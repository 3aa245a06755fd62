// The network graph: relays on a circle (this relay on top), one edge per linked pair, labelled
// with its round trip and backlog. Plain SVG, redrawn on every snapshot.
(function () {
  const NS = 'http://www.w3.org/2000/svg'
  const W = 520
  const H = 420

  function el(name, attrs, text) {
    const e = document.createElementNS(NS, name)
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v))
    if (text !== undefined) e.textContent = text
    return e
  }

  function shortId(id) {
    return id.length > 8 ? '…' + id.slice(-6) : id
  }

  function bytes(n) {
    if (n >= 1048576) return (n / 1048576).toFixed(1) + ' MiB'
    if (n >= 1024) return (n / 1024).toFixed(0) + ' KiB'
    return n + ' B'
  }

  /** One edge per pair: the RTT either end measured, the backlog of both directions. */
  function edges(snapshot) {
    const known = new Set(snapshot.relays.map((r) => r.id))
    const pairs = new Map()
    for (const l of snapshot.links) {
      if (!known.has(l.from) || !known.has(l.to)) continue
      const key = l.from < l.to ? l.from + ' ' + l.to : l.to + ' ' + l.from
      const e = pairs.get(key) || { a: l.from, b: l.to, rttMs: -1, backlog: 0, bytesPerSec: 0 }
      if (l.rttMs >= 0) e.rttMs = Math.max(e.rttMs, l.rttMs)
      e.backlog += l.backlog
      e.bytesPerSec = Math.max(e.bytesPerSec, l.bytesPerSec)
      pairs.set(key, e)
    }
    return [...pairs.values()]
  }

  function layout(relays) {
    const pos = new Map()
    const cx = W / 2
    const cy = H / 2
    const r = relays.length <= 1 ? 0 : Math.min(W, H) / 2 - 60
    const ordered = [...relays].sort((x, y) => (x.self ? -1 : y.self ? 1 : x.id < y.id ? -1 : 1))
    ordered.forEach((relay, i) => {
      const a = -Math.PI / 2 + (2 * Math.PI * i) / ordered.length
      pos.set(relay.id, { x: cx + r * Math.cos(a), y: cy + r * Math.sin(a) })
    })
    return pos
  }

  function draw(svg, snapshot) {
    while (svg.firstChild) svg.removeChild(svg.firstChild)
    const pos = layout(snapshot.relays)
    for (const e of edges(snapshot)) {
      const p = pos.get(e.a)
      const q = pos.get(e.b)
      const cls = 'edge' + (e.backlog > 1048576 ? ' backlog' : e.bytesPerSec > 1024 ? ' busy' : '')
      const width = 1.5 + Math.min(6, Math.log10(1 + e.bytesPerSec / 1024))
      svg.appendChild(el('line', { class: cls, x1: p.x, y1: p.y, x2: q.x, y2: q.y, 'stroke-width': width.toFixed(1), 'data-a': e.a, 'data-b': e.b }))
      const label = (e.rttMs >= 0 ? e.rttMs.toFixed(1) + ' ms' : 'rtt –') + ' · ' + bytes(e.backlog)
      svg.appendChild(el('text', { class: 'edge-label', x: (p.x + q.x) / 2, y: (p.y + q.y) / 2 - 4, 'text-anchor': 'middle' }, label))
    }
    for (const relay of snapshot.relays) {
      const p = pos.get(relay.id)
      const cls = ['relay', relay.self ? 'self' : '', relay.suspectedBy.length > 0 ? 'suspected' : '', relay.reachable ? '' : 'unreachable'].join(' ').trim()
      const g = el('g', { class: cls, 'data-id': relay.id, transform: 'translate(' + p.x.toFixed(1) + ',' + p.y.toFixed(1) + ')' })
      g.appendChild(el('title', {}, relay.id + (relay.suspectedBy.length > 0 ? ' (suspected by ' + relay.suspectedBy.length + ')' : '')))
      g.appendChild(el('circle', { r: 30 }))
      g.appendChild(el('text', { class: 'id', y: 4 }, shortId(relay.id)))
      const members = relay.clusters.reduce((s, c) => s + c.members, 0)
      const plural = (n, word) => n + ' ' + word + (n === 1 ? '' : 's')
      g.appendChild(el('text', { y: 46 }, plural(relay.clients, 'client') + ' · ' + plural(members, 'member')))
      svg.appendChild(g)
    }
  }

  window.HeraldGraph = { draw, shortId, bytes }
})()
