import type { Clock } from './clock.js'
import type { NetworkWatch } from './dashboard/network-watch.js'
import type { SseHub } from './dashboard/sse.js'
import type { HttpListener, HttpRoutes } from './http-server.js'
import type { Logger } from './log.js'
import type { Readiness } from './metrics/routes.js'
import type { RelayParts, RelayStatus } from './status.js'

export interface ObserveInit {
  /** Prometheus metrics, /healthz and /readyz on this "HOST:PORT". */
  metrics?: string
  /** The dashboard on this "HOST:PORT" (the same as `metrics`: one listener serves both). */
  ui?: string
  parts: RelayParts
  network: string
  self: string
  clock: Clock
  log: Logger
  status: () => RelayStatus
  remoteStatus: (node: string, timeoutMs: number) => Promise<RelayStatus>
  readiness: () => Readiness
}

/**
 * What lets people see a relay from outside: the metrics endpoint and the dashboard, on one
 * HTTP listener or two. Bound first when the relay starts, so a bad address stops it before
 * anything else happens.
 */
export class Observability {
  private readonly init: ObserveInit
  private readonly listeners: HttpListener[] = []
  private watch: NetworkWatch | undefined
  private hub: SseHub | undefined
  /** URLs once listening. */
  metricsUrl: string | undefined
  uiUrl: string | undefined

  constructor(init: ObserveInit) {
    this.init = init
  }

  async start(): Promise<void> {
    const { metrics, ui } = this.init
    let metricsRoutesSet: HttpRoutes | undefined
    let uiRoutes: HttpRoutes | undefined
    if (metrics === undefined && ui === undefined) return
    // Loaded only when asked for (prom-client, the HTTP server, the dashboard): a relay
    // without --metrics or --ui does not carry their code.
    const { listenHttp } = await import('./http-server.js')
    if (metrics !== undefined) {
      const [{ createRelayMetrics }, { metricsRoutes }] = await Promise.all([import('./metrics/relay-metrics.js'), import('./metrics/routes.js')])
      metricsRoutesSet = metricsRoutes(createRelayMetrics({ parts: this.init.parts }), this.init.readiness)
    }
    if (ui !== undefined) {
      const [{ NetworkWatch }, { dashboardRoutes }, { SseHub }] = await Promise.all([import('./dashboard/network-watch.js'), import('./dashboard/routes.js'), import('./dashboard/sse.js')])
      const hub = this.hub = new SseHub()
      this.watch = new NetworkWatch({
        network: this.init.network, self: this.init.self, clock: this.init.clock,
        status: this.init.status, remoteStatus: this.init.remoteStatus,
        onSnapshot: (snap) => hub.send('snapshot', snap),
        viewers: () => hub.size,
      })
      uiRoutes = dashboardRoutes(this.watch, hub)
    }
    try {
      if (metrics !== undefined && metrics === ui) {
        const l = await listenHttp(metrics, '--metrics and --ui', { ...uiRoutes, ...metricsRoutesSet })
        this.listeners.push(l)
        this.metricsUrl = this.uiUrl = l.url
      } else {
        if (metrics !== undefined) {
          const l = await listenHttp(metrics, '--metrics', metricsRoutesSet!)
          this.listeners.push(l)
          this.metricsUrl = l.url
        }
        if (ui !== undefined) {
          const l = await listenHttp(ui, '--ui', uiRoutes!)
          this.listeners.push(l)
          this.uiUrl = l.url
        }
      }
    } catch (err) {
      await this.stop()
      throw err
    }
    if (this.metricsUrl !== undefined) this.init.log.info({ event: 'http.metrics', url: this.metricsUrl }, `metrics on ${this.metricsUrl}/metrics`)
    if (this.uiUrl !== undefined) this.init.log.info({ event: 'http.dashboard', url: this.uiUrl }, `dashboard on ${this.uiUrl}/`)
  }

  /** The relay is up: the dashboard may watch the network (while someone looks at it). */
  running(): void {
    this.watch?.start()
  }

  async stop(): Promise<void> {
    this.watch?.stop()
    this.hub?.close()
    await Promise.all(this.listeners.splice(0).map((l) => l.close()))
  }
}
