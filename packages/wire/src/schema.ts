import { FrameType } from './frames.js'

/**
 * Field layout of every frame body, in wire order. One table drives both the encoder and the
 * decoder, so the two cannot disagree. Kinds:
 *   u8 / u16 / u32  unsigned big-endian integers
 *   code            u16 error code
 *   name            u8 length + 1..255 bytes of UTF-8 (cluster, topic, node id)
 *   text            u16 length + 0..1024 bytes of UTF-8 (error messages, close reasons)
 *   magic           the 4 bytes "HRLD"
 *   rest            every remaining byte of the frame (a payload); always last
 */
export type FieldKind = 'u8' | 'u16' | 'u32' | 'code' | 'name' | 'text' | 'magic' | 'rest'
export type Field = readonly [name: string, kind: FieldKind]

export const SCHEMA: Readonly<Record<number, readonly Field[]>> = {
  [FrameType.hello]: [['magic', 'magic'], ['version', 'u8'], ['role', 'u8']],
  [FrameType.welcome]: [['version', 'u8'], ['maxMessageBytes', 'u32'], ['nodeId', 'name']],
  [FrameType.register]: [
    ['seq', 'u32'], ['cluster', 'name'], ['requestConcurrency', 'u32'], ['requestMemory', 'u32'],
    ['broadcastConcurrency', 'u32'], ['broadcastMemory', 'u32'],
  ],
  [FrameType.unregister]: [['seq', 'u32'], ['cluster', 'name']],
  [FrameType.request]: [['id', 'u32'], ['timeoutMs', 'u32'], ['cluster', 'name'], ['payload', 'rest']],
  [FrameType.reply]: [['id', 'u32'], ['payload', 'rest']],
  [FrameType.failure]: [['id', 'u32'], ['code', 'code'], ['message', 'text']],
  [FrameType.broadcast]: [['cluster', 'name'], ['payload', 'rest']],
  [FrameType.subscribe]: [['seq', 'u32'], ['topic', 'name'], ['memoryLimit', 'u32']],
  [FrameType.unsubscribe]: [['seq', 'u32'], ['topic', 'name']],
  [FrameType.publish]: [['topic', 'name'], ['payload', 'rest']],
  [FrameType.event]: [['topic', 'name'], ['payload', 'rest']],
  [FrameType.tunnelOpen]: [['tunnel', 'u32'], ['timeoutMs', 'u32'], ['cluster', 'name']],
  [FrameType.tunnelAccept]: [['tunnel', 'u32'], ['allowance', 'u32']],
  [FrameType.tunnelData]: [['tunnel', 'u32'], ['payload', 'rest']],
  [FrameType.tunnelAllowance]: [['tunnel', 'u32'], ['bytes', 'u32']],
  [FrameType.tunnelClose]: [['tunnel', 'u32'], ['code', 'code'], ['reason', 'text']],
  [FrameType.ping]: [['token', 'u32']],
  [FrameType.pong]: [['token', 'u32']],
  [FrameType.close]: [['code', 'code'], ['reason', 'text']],
  [FrameType.error]: [['code', 'code'], ['message', 'text']],
  [FrameType.dropped]: [['topic', 'name'], ['count', 'u32']],
  [FrameType.ack]: [['seq', 'u32'], ['code', 'code'], ['message', 'text']],
  [FrameType.peerHello]: [['version', 'u8'], ['network', 'name'], ['nodeId', 'name']],
  [FrameType.directory]: [['entries', 'rest']],
  [FrameType.digest]: [['digest', 'rest']],
}
