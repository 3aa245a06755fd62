import type { Clock, Timer } from '../clock.js'
import type { RelayLimits } from '../constants.js'
import { peerOfAddr, type Overlay } from '../overlay/overlay.js'

export interface DialerInit {
  overlay: Overlay
  /** Overlay addresses of relays to join (each ending in /p2p/<peer id>). */
  bootstrap: readonly string[]
  clock: Clock
  limits: Pick<RelayLimits, 'dialIntervalMs' | 'bootstrapRedialMs'>
  log: (msg: string) => void
}

/**
 * Who we dial and how often: relays the directory or discovery names (at most once per
 * dialIntervalMs each, so a flood of forged entries is not a flood of dials), and bootstrap
 * relays, redialled with back-off for as long as we have no connection to them.
 */
export class Dialer {
  private readonly init: DialerInit
  private readonly lastDial = new Map<string, number>()
  private timer: Timer | undefined
  private stopped = false

  constructor(init: DialerInit) {
    this.init = init
  }

  /** Dials `peer` (at `addrs`, or where the overlay knows it) unless dialled recently or connected. */
  dial(peer: string, addrs?: readonly string[]): void {
    const now = this.init.clock.now()
    if (now - (this.lastDial.get(peer) ?? -Infinity) < this.init.limits.dialIntervalMs) return
    if (this.lastDial.size > 8192) this.lastDial.clear()
    this.lastDial.set(peer, now)
    if (this.stopped || this.init.overlay.isConnected(peer)) return
    this.init.overlay.dial(peer, addrs).catch((err: unknown) => {
      this.init.log(`dial ${peer} failed: ${(err as Error).message}`)
    })
  }

  /** Dials the bootstrap relays now, then keeps redialling those we have no connection to. */
  start(): void {
    for (const addr of this.init.bootstrap) {
      const peer = peerOfAddr(addr)
      if (peer !== undefined && peer !== this.init.overlay.nodeId) this.dial(peer, [addr])
    }
    this.redial(this.init.limits.bootstrapRedialMs[0])
  }

  stop(): void {
    this.stopped = true
    this.init.clock.clearTimeout(this.timer)
  }

  /**
   * A relay started before its bootstrap relay, or whose first connection dropped before it
   * learned the directory, would stay alone for good if bootstrap relays were dialled only
   * at start. So those we have no connection to are redialled, backing off from the first
   * delay to the second (back to the first once all are connected).
   */
  private redial(delayMs: number): void {
    if (this.init.bootstrap.length === 0 || this.stopped) return
    const [min, max] = this.init.limits.bootstrapRedialMs
    this.timer = this.init.clock.setTimeout(() => {
      let missing = false
      for (const addr of this.init.bootstrap) {
        const peer = peerOfAddr(addr)
        if (peer === undefined || peer === this.init.overlay.nodeId || this.init.overlay.isConnected(peer)) continue
        missing = true
        this.init.overlay.dial(peer, [addr]).catch(() => {}) // quiet: the relay may simply not be up yet
      }
      this.redial(missing ? Math.min(delayMs * 2, max) : min)
    }, delayMs)
    this.timer.unref?.()
  }
}
