import { FrameType, type Frame } from '@herald/wire'
import type { PeerLink } from '../peers/peer-link.js'
import type { PeerFrameSink } from '../peers/sinks.js'
import type { Endpoint } from './endpoint.js'
import type { Router } from './router.js'

/** Another relay as a source of requests, broadcasts and events: answers go back over its link. */
export class PeerEndpoint implements Endpoint {
  readonly kind = 'peer' as const
  constructor(readonly link: PeerLink) {}
  send(frame: Frame): void {
    this.link.send(frame)
  }
}

/** What other relays send over peer links, handed to the router (peers/ upcalls this). */
export class PeerAdapter implements PeerFrameSink {
  private readonly endpoints = new Map<string, PeerEndpoint>()

  constructor(private readonly router: Router) {}

  linkUp(link: PeerLink): void {
    const old = this.endpoints.get(link.remote)
    if (old !== undefined) this.router.detach(old, 'the link to its relay was replaced')
    const ep = new PeerEndpoint(link)
    this.endpoints.set(link.remote, ep)
    this.router.attach(ep)
  }

  linkDown(link: PeerLink, why: string): void {
    const ep = this.endpoints.get(link.remote)
    if (ep !== undefined && ep.link === link) {
      this.endpoints.delete(link.remote)
      this.router.detach(ep, why)
    }
    this.router.remoteLost(link.remote)
  }

  frame(peer: string, f: Frame, bytes: Uint8Array): void {
    const ep = this.endpoints.get(peer)
    if (ep === undefined) return
    switch (f.type) {
      case FrameType.request:
        this.router.request(ep, f)
        return
      case FrameType.reply:
      case FrameType.failure:
        this.router.remoteAnswer(peer, f.id, f)
        return
      case FrameType.broadcast:
        // Members here get the very bytes received.
        this.router.broadcast(ep, f.cluster, bytes)
        return
    }
  }

  event(peer: string, topic: string, bytes: Uint8Array): void {
    const ep = this.endpoints.get(peer)
    if (ep !== undefined) this.router.publish(ep, topic, bytes)
  }
}
