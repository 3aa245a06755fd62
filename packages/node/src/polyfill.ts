// libp2p v3 needs Promise.withResolvers (Node 22); Node 20 lacks it. Imported first by index.ts.
const P = Promise as unknown as { withResolvers?: unknown }
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = function withResolvers<T>(this: PromiseConstructor) {
    let resolve!: (v: T) => void
    let reject!: (e: unknown) => void
    const promise = new this<T>((a, b) => { resolve = a; reject = b })
    return { promise, resolve, reject }
  }
}
export {}
