import type { ErrorCode } from './errors.js'
import type { Role } from './constants.js'

/** Frame type numbers. docs/protocol.md specifies each frame's fields. */
export const FrameType = {
  hello: 0x01,
  welcome: 0x02,
  register: 0x03,
  unregister: 0x04,
  request: 0x05,
  reply: 0x06,
  failure: 0x07,
  broadcast: 0x08,
  subscribe: 0x09,
  unsubscribe: 0x0a,
  publish: 0x0b,
  event: 0x0c,
  tunnelOpen: 0x0d,
  tunnelAccept: 0x0e,
  tunnelData: 0x0f,
  tunnelAllowance: 0x10,
  tunnelClose: 0x11,
  ping: 0x12,
  pong: 0x13,
  close: 0x14,
  error: 0x15,
  dropped: 0x16,
  ack: 0x17,
  // Relay <-> relay (peer link) frames. Peer links also carry REQUEST, REPLY, FAILURE,
  // BROADCAST, EVENT and PING/PONG frames as defined above; tunnel streams carry the tunnel frames.
  peerHello: 0x40,
  /** Membership, failure detection and directory changes (body: one control message, control.ts). */
  control: 0x43,
} as const
export type FrameType = (typeof FrameType)[keyof typeof FrameType]

export interface MemberLimits {
  requestConcurrency: number
  requestMemory: number
  broadcastConcurrency: number
  broadcastMemory: number
}

export interface HelloFrame { type: typeof FrameType.hello; version: number; role: Role }
export interface WelcomeFrame { type: typeof FrameType.welcome; version: number; maxMessageBytes: number; nodeId: string }
export interface RegisterFrame extends MemberLimits { type: typeof FrameType.register; seq: number; cluster: string }
export interface UnregisterFrame { type: typeof FrameType.unregister; seq: number; cluster: string }
export interface RequestFrame { type: typeof FrameType.request; id: number; timeoutMs: number; cluster: string; payload: Uint8Array }
export interface ReplyFrame { type: typeof FrameType.reply; id: number; payload: Uint8Array }
export interface FailureFrame { type: typeof FrameType.failure; id: number; code: ErrorCode; message: string }
export interface BroadcastFrame { type: typeof FrameType.broadcast; cluster: string; payload: Uint8Array }
export interface SubscribeFrame { type: typeof FrameType.subscribe; seq: number; topic: string; memoryLimit: number }
export interface UnsubscribeFrame { type: typeof FrameType.unsubscribe; seq: number; topic: string }
export interface PublishFrame { type: typeof FrameType.publish; topic: string; payload: Uint8Array }
export interface EventFrame { type: typeof FrameType.event; topic: string; payload: Uint8Array }
export interface TunnelOpenFrame { type: typeof FrameType.tunnelOpen; tunnel: number; timeoutMs: number; cluster: string }
export interface TunnelAcceptFrame { type: typeof FrameType.tunnelAccept; tunnel: number; allowance: number }
export interface TunnelDataFrame { type: typeof FrameType.tunnelData; tunnel: number; payload: Uint8Array }
export interface TunnelAllowanceFrame { type: typeof FrameType.tunnelAllowance; tunnel: number; bytes: number }
export interface TunnelCloseFrame { type: typeof FrameType.tunnelClose; tunnel: number; code: ErrorCode; reason: string }
export interface PingFrame { type: typeof FrameType.ping; token: number }
export interface PongFrame { type: typeof FrameType.pong; token: number }
export interface CloseFrame { type: typeof FrameType.close; code: ErrorCode; reason: string }
export interface ErrorFrame { type: typeof FrameType.error; code: ErrorCode; message: string }
export interface DroppedFrame { type: typeof FrameType.dropped; topic: string; count: number }
export interface AckFrame { type: typeof FrameType.ack; seq: number; code: ErrorCode; message: string }

export interface PeerHelloFrame { type: typeof FrameType.peerHello; version: number; network: string; nodeId: string }
/** One control message (membership, failure detection, directory changes), encoded by control.ts. */
export interface ControlFrame { type: typeof FrameType.control; body: Uint8Array }

export type Frame =
  | HelloFrame | WelcomeFrame | RegisterFrame | UnregisterFrame | RequestFrame | ReplyFrame
  | FailureFrame | BroadcastFrame | SubscribeFrame | UnsubscribeFrame | PublishFrame | EventFrame
  | TunnelOpenFrame | TunnelAcceptFrame | TunnelDataFrame | TunnelAllowanceFrame | TunnelCloseFrame
  | PingFrame | PongFrame | CloseFrame | ErrorFrame | DroppedFrame | AckFrame
  | PeerHelloFrame | ControlFrame
