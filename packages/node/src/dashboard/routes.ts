import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { pathToFileURL } from 'node:url'
import { plain, type HttpRoutes } from '../http-server.js'
import type { NetworkWatch } from './network-watch.js'
import type { SseHub } from './sse.js'

/**
 * The pages, from the package (packages/node/dashboard/, beside dist/ and src/), found through
 * the package's name: this module also runs from the herald command's bundle, elsewhere.
 */
const ASSETS = new URL('dashboard/', pathToFileURL(createRequire(import.meta.url).resolve('@herald/node/package.json')))

interface Asset {
  type: string
  body: Buffer
}

/** uPlot is served from its npm package as installed: nothing is fetched, nothing is built. */
function uplotFile(name: string): Buffer {
  const require = createRequire(import.meta.url)
  return readFileSync(require.resolve(`uplot/dist/${name}`))
}

function assets(): Record<string, Asset> {
  const file = (name: string): Buffer => readFileSync(new URL(name, ASSETS))
  return {
    '/': { type: 'text/html; charset=utf-8', body: file('index.html') },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: file('app.js') },
    '/graph.js': { type: 'text/javascript; charset=utf-8', body: file('graph.js') },
    '/style.css': { type: 'text/css; charset=utf-8', body: file('style.css') },
    '/favicon.svg': { type: 'image/svg+xml', body: file('favicon.svg') },
    '/vendor/uPlot.iife.min.js': { type: 'text/javascript; charset=utf-8', body: uplotFile('uPlot.iife.min.js') },
    '/vendor/uPlot.min.css': { type: 'text/css; charset=utf-8', body: uplotFile('uPlot.min.css') },
  }
}

/**
 * The dashboard: its static files, /events (server-sent events: "history" once, then a
 * "snapshot" per tick) and /api/network (the latest snapshot as JSON, for scripts). Either
 * wakes the watch, which sleeps while nobody looks.
 */
export function dashboardRoutes(watch: NetworkWatch, hub: SseHub): HttpRoutes {
  const routes: HttpRoutes = {}
  for (const [path, a] of Object.entries(assets())) {
    routes[path] = (_req, res) => {
      res.writeHead(200, { 'content-type': a.type, 'content-length': a.body.length, 'cache-control': 'no-cache' })
      res.end(a.body)
    }
  }
  routes['/events'] = (_req, res) => {
    const snap = watch.snapshot()
    const first = [{ event: 'history', data: watch.history() }, ...(snap !== undefined ? [{ event: 'snapshot', data: snap }] : [])]
    if (!hub.add(res, first)) return plain(res, 503, 'too many dashboards are open on this relay\n')
    void watch.wake()
  }
  routes['/api/network'] = (_req, res) => {
    watch.wake().then(() => {
      const snap = watch.snapshot()
      if (snap === undefined) return plain(res, 503, 'no snapshot yet\n')
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
      res.end(JSON.stringify(snap))
    }, (err: unknown) => plain(res, 500, `${(err as Error).message}\n`))
  }
  return routes
}
