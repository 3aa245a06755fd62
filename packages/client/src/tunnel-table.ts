import { ErrorCode, FrameType, type Frame } from '@herald/wire'
import { errorFromWire, type HeraldError } from './errors.js'
import { Tunnel, type TunnelCrypto, type TunnelOwner } from './tunnel.js'

interface Opening {
  tunnel: Tunnel
  resolve: (t: Tunnel) => void
  reject: (e: unknown) => void
}

type TunnelFrame = Extract<Frame, { type: typeof FrameType.tunnelData | typeof FrameType.tunnelAllowance | typeof FrameType.tunnelAccept | typeof FrameType.tunnelClose }>

/** A connection's tunnels: those being opened, those open, and the tunnel frames for them. */
export class TunnelTable {
  private readonly tunnels = new Map<number, Tunnel>()
  private readonly opening = new Map<number, Opening>()

  constructor(private readonly owner: TunnelOwner) {}

  /** Tunnel ids in use (the connection allocates them). */
  get ids(): ReadonlyMap<number, unknown> {
    return this.tunnels
  }

  /** Our end of tunnel `id` being opened: resolves when the member accepts, rejects when refused. */
  open(id: number, crypto: TunnelCrypto | undefined): { tunnel: Tunnel; accepted: Promise<Tunnel> } {
    const tunnel = this.add(id, crypto)
    const accepted = new Promise<Tunnel>((resolve, reject) => {
      this.opening.set(id, { tunnel, resolve, reject })
    })
    return { tunnel, accepted }
  }

  /** The open is abandoned (its deadline passed): true when it was still pending. */
  abandon(id: number): boolean {
    return this.opening.delete(id)
  }

  /** A member's end of a tunnel the relay handed it. */
  accept(id: number, crypto: TunnelCrypto | undefined): Tunnel {
    const tunnel = this.add(id, crypto)
    this.owner.sendFrame({ type: FrameType.tunnelAccept, tunnel: id, allowance: tunnel.initialWindow })
    return tunnel
  }

  forget(id: number): void {
    this.tunnels.delete(id)
  }

  onFrame(f: TunnelFrame): void {
    switch (f.type) {
      case FrameType.tunnelData:
        this.tunnels.get(f.tunnel)?.deliver(f.payload)
        return
      case FrameType.tunnelAllowance:
        this.tunnels.get(f.tunnel)?.grant(f.bytes)
        return
      case FrameType.tunnelAccept: {
        const o = this.opening.get(f.tunnel)
        if (o === undefined) return
        this.opening.delete(f.tunnel)
        o.tunnel.grant(f.allowance)
        this.owner.sendFrame({ type: FrameType.tunnelAllowance, tunnel: f.tunnel, bytes: o.tunnel.initialWindow })
        o.resolve(o.tunnel)
        return
      }
      case FrameType.tunnelClose: {
        const o = this.opening.get(f.tunnel)
        if (o !== undefined) {
          this.opening.delete(f.tunnel)
          this.tunnels.delete(f.tunnel)
          o.reject(errorFromWire(f.code === ErrorCode.ok ? ErrorCode.closed : f.code, f.reason))
          return
        }
        this.tunnels.get(f.tunnel)?.remoteClose(f.code, f.reason)
      }
    }
  }

  /** The connection ended. */
  abortAll(reason: HeraldError): void {
    for (const o of this.opening.values()) o.reject(reason)
    this.opening.clear()
    for (const t of [...this.tunnels.values()]) t.abort(reason)
    this.tunnels.clear()
  }

  private add(id: number, crypto: TunnelCrypto | undefined): Tunnel {
    const tunnel = new Tunnel({ id, owner: this.owner, ...(crypto !== undefined ? { crypto } : {}) })
    this.tunnels.set(id, tunnel)
    return tunnel
  }
}
