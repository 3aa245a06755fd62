// The dashboard: one EventSource to the relay ("history" once, then a "snapshot" a second),
// the graph (graph.js), three uPlot charts of the network's rates, and tables. No framework,
// nothing fetched from anywhere but this relay.
(function () {
  const MAX_POINTS = 300
  const { draw, shortId, bytes } = window.HeraldGraph
  const $ = (id) => document.getElementById(id)
  const series = { t: [], published: [], delivered: [], requests: [], p99: [] }

  function rate(n) {
    if (n >= 1e6) return (n / 1e6).toFixed(2) + 'M'
    if (n >= 1e4) return (n / 1e3).toFixed(1) + 'k'
    return n >= 100 ? n.toFixed(0) : n.toFixed(1)
  }

  function chart(target, title, lines) {
    const opts = {
      title, width: Math.max(300, target.clientWidth || 480), height: 120,
      // From 0 up, with room above the highest point: rates read as rates, not as noise.
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max) * 1.15] } }, legend: { show: true, live: false },
      series: [{}, ...lines.map((l) => ({ label: l.label, stroke: l.color, width: 2, spanGaps: true }))],
      axes: [{}, { size: 60, space: 20 }],
    }
    return new uPlot(opts, [[], ...lines.map(() => [])], target)
  }

  const charts = {
    msgs: chart($('chart-msgs'), 'events /s', [{ label: 'published', color: '#2563eb' }, { label: 'delivered', color: '#16a34a' }]),
    reqs: chart($('chart-reqs'), 'requests /s', [{ label: 'requests', color: '#7c3aed' }]),
    p99: chart($('chart-p99'), 'request p99 (ms)', [{ label: 'p99', color: '#d97706' }]),
  }

  function push(p) {
    series.t.push(p.t / 1000)
    series.published.push(p.published)
    series.delivered.push(p.delivered)
    series.requests.push(p.requests)
    series.p99.push(p.p99Ms)
    for (const k of Object.keys(series)) if (series[k].length > MAX_POINTS) series[k].shift()
  }

  function redrawCharts() {
    charts.msgs.setData([series.t, series.published, series.delivered])
    charts.reqs.setData([series.t, series.requests])
    charts.p99.setData([series.t, series.p99])
  }

  function kpi(id, value, text) {
    const e = $(id)
    e.dataset.value = value === null ? '' : String(value)
    e.textContent = text
  }

  function table(id, head, rows) {
    const t = $(id)
    t.replaceChildren()
    const tr = document.createElement('tr')
    for (const h of head) {
      const th = document.createElement('th')
      th.textContent = h.label
      if (h.num) th.className = 'num'
      tr.appendChild(th)
    }
    t.appendChild(tr)
    if (rows.length === 0) {
      const r = document.createElement('tr')
      const td = document.createElement('td')
      td.colSpan = head.length
      td.className = 'muted'
      td.textContent = 'none'
      r.appendChild(td)
      t.appendChild(r)
    }
    for (const row of rows) {
      const r = document.createElement('tr')
      row.forEach((cell, i) => {
        const td = document.createElement('td')
        td.textContent = cell
        td.title = cell
        if (head[i].num) td.className = 'num'
        r.appendChild(td)
      })
      t.appendChild(r)
    }
  }

  /** name -> "relay:count" for every relay holding it. */
  function perRelay(relays, pick) {
    const m = new Map()
    for (const r of relays) {
      for (const x of pick(r)) {
        const e = m.get(x.name) || []
        e.push([r.id, x])
        m.set(x.name, e)
      }
    }
    return [...m.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1))
  }

  function render(s) {
    $('network').textContent = 'network "' + s.network + '"'
    $('self').textContent = 'relay ' + s.self
    kpi('kpi-relays', s.relays.length, String(s.relays.length))
    kpi('kpi-published', s.totals.published, rate(s.totals.published))
    kpi('kpi-delivered', s.totals.delivered, rate(s.totals.delivered))
    kpi('kpi-requests', s.totals.requests, rate(s.totals.requests))
    kpi('kpi-p99', s.totals.p99Ms, s.totals.p99Ms === null ? '–' : s.totals.p99Ms.toFixed(2) + ' ms')
    draw($('graph'), s)
    table('relays', [{ label: 'relay' }, { label: 'clients', num: true }, { label: 'pub/s', num: true }, { label: 'deliv/s', num: true }, { label: 'req/s', num: true }, { label: 'p99 ms', num: true }, { label: 'RSS', num: true }, { label: 'state' }],
      s.relays.map((r) => [shortId(r.id) + (r.self ? ' (this)' : ''), String(r.clients), rate(r.rates.published), rate(r.rates.delivered), rate(r.rates.requests),
        r.rates.p99Ms === null ? '–' : r.rates.p99Ms.toFixed(2), bytes(r.rssBytes),
        !r.reachable ? 'unreachable' : r.suspectedBy.length > 0 ? 'suspected by ' + r.suspectedBy.map(shortId).join(', ') : 'ok']))
    table('links', [{ label: 'from' }, { label: 'to' }, { label: 'RTT ms', num: true }, { label: 'backlog', num: true }, { label: 'traffic /s', num: true }],
      s.links.map((l) => [shortId(l.from), shortId(l.to), l.rttMs >= 0 ? l.rttMs.toFixed(1) : '–', bytes(l.backlog), bytes(Math.round(l.bytesPerSec))]))
    table('clusters', [{ label: 'cluster' }, { label: 'members per relay (requests in flight)' }, { label: 'in flight', num: true }, { label: 'queued', num: true }],
      perRelay(s.relays, (r) => r.clusters).map(([name, at]) => [name, at.map(([id, c]) => shortId(id) + ': ' + c.members + (c.outstanding > 0 ? ' (' + c.outstanding + ' in flight)' : '')).join('  '),
        String(at.reduce((n, [, c]) => n + c.outstanding, 0)), String(at.reduce((n, [, c]) => n + c.queued, 0))]))
    table('topics', [{ label: 'topic' }, { label: 'subscribers per relay' }, { label: 'dropped', num: true }],
      perRelay(s.relays, (r) => r.topics).map(([name, at]) => [name, at.map(([id, t]) => shortId(id) + ': ' + t.subscribers).join('  '),
        String(at.reduce((n, [, t]) => n + t.dropped, 0))]))
    const ul = $('failures')
    ul.replaceChildren()
    const recent = s.failures.slice(-30).reverse()
    if (recent.length === 0) {
      const li = document.createElement('li')
      li.className = 'muted'
      li.textContent = 'none'
      ul.appendChild(li)
    }
    for (const f of recent) {
      const li = document.createElement('li')
      const t = document.createElement('span')
      t.className = 't'
      t.textContent = new Date(f.t).toLocaleTimeString()
      li.append(t, shortId(f.relay) + ': ' + f.what)
      ul.appendChild(li)
    }
  }

  const state = { snapshots: 0, last: null }
  window.heraldDashboard = state
  const es = new EventSource('/events')
  es.addEventListener('open', () => { $('conn').textContent = 'live'; $('conn').className = 'pill live' })
  es.addEventListener('error', () => { $('conn').textContent = 'reconnecting…'; $('conn').className = 'pill down' })
  es.addEventListener('history', (ev) => {
    for (const k of Object.keys(series)) series[k].length = 0
    for (const p of JSON.parse(ev.data)) push(p)
    redrawCharts()
  })
  es.addEventListener('snapshot', (ev) => {
    const s = JSON.parse(ev.data)
    if (series.t.length === 0 || series.t[series.t.length - 1] < s.totals.t / 1000) push(s.totals)
    redrawCharts()
    render(s)
    state.snapshots++
    state.last = s
  })
})()
