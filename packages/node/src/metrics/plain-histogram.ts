import { Histogram, type MetricType, type Registry } from 'prom-client'
import { LATENCY_BOUNDS_MS, type LatencyHistogram } from '../routing/stats.js'

type Exported = Awaited<ReturnType<Histogram<string>['get']>>
type Row = Exported['values'][number]

export interface PlainHistogramInit {
  name: string
  help: string
  labelName: string
  registry: Registry
  /** Label value and histogram of each series, read at every scrape. */
  read: () => Iterable<[string, LatencyHistogram]>
}

/**
 * A prom-client Histogram whose values are read at scrape time from LatencyHistograms the
 * router fills in plain fields: observing costs the hot path an array increment, never a
 * label lookup. Only the export is prom-client's (registration, the text format).
 */
export class PlainHistogram extends Histogram<string> {
  private readonly plain: PlainHistogramInit

  constructor(init: PlainHistogramInit) {
    super({ name: init.name, help: init.help, labelNames: [init.labelName], buckets: LATENCY_BOUNDS_MS.map((ms) => ms / 1000), registers: [init.registry] })
    this.plain = init
  }

  override async get(): Promise<Exported> {
    const { name, help, labelName } = this.plain
    const values: Row[] = []
    for (const [label, h] of this.plain.read()) {
      let cumulative = 0
      LATENCY_BOUNDS_MS.forEach((ms, i) => {
        cumulative += h.counts[i]!
        values.push({ value: cumulative, labels: { [labelName]: label, le: ms / 1000 }, metricName: `${name}_bucket` })
      })
      values.push({ value: h.count, labels: { [labelName]: label, le: '+Inf' }, metricName: `${name}_bucket` })
      values.push({ value: h.sumMs / 1000, labels: { [labelName]: label }, metricName: `${name}_sum` })
      values.push({ value: h.count, labels: { [labelName]: label }, metricName: `${name}_count` })
    }
    // prom-client's typings declare `type` as a numeric enum; at run time it is the string.
    return { name, help, type: 'histogram' as unknown as MetricType, values, aggregator: 'sum', collect: () => {} }
  }

  /** The registry uses this for the text format when present: the same rows. */
  getForPromString(): Promise<Exported> {
    return this.get()
  }
}
