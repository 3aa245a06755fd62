import type { Registry } from 'prom-client'
import { plain, type HttpRoutes } from '../http-server.js'

/** Whether the relay should get traffic, and if not, why. */
export interface Readiness {
  ready: boolean
  reason: string
}

/**
 * /metrics (the Prometheus text format), /healthz (the process answers: live) and /readyz
 * (the relay serves and has joined its network, or is alone by design).
 */
export function metricsRoutes(registry: Registry, readiness: () => Readiness): HttpRoutes {
  return {
    '/metrics': (_req, res) => {
      registry.metrics().then(
        (text) => {
          res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' })
          res.end(text)
        },
        (err: unknown) => plain(res, 500, `metrics failed: ${(err as Error).message}\n`),
      )
    },
    '/healthz': (_req, res) => plain(res, 200, 'ok\n'),
    '/readyz': (_req, res) => {
      const r = readiness()
      plain(res, r.ready ? 200 : 503, r.ready ? `ready: ${r.reason}\n` : `not ready: ${r.reason}\n`)
    },
  }
}
