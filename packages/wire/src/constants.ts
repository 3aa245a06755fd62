/** The four bytes every client connection starts with: "HRLD". */
export const MAGIC = new Uint8Array([0x48, 0x52, 0x4c, 0x44])
/** The protocol version this codec speaks. A relay refuses any other. */
export const PROTOCOL_VERSION = 1

/** Bytes of the frame header: a u32 length (of type + body) and a u8 type. */
export const FRAME_HEADER_BYTES = 5
/** The largest cluster or topic name, in UTF-8 bytes (its length is a u8 on the wire). */
export const MAX_NAME_BYTES = 255
/** The largest error message or close reason, in UTF-8 bytes. Longer texts are cut. */
export const MAX_TEXT_BYTES = 1024
/** The largest message payload unless configured otherwise: 16 MiB. */
export const DEFAULT_MAX_MESSAGE_BYTES = 16 * 1024 * 1024
/** Room for a frame's fixed fields and names on top of its payload. */
export const FRAME_OVERHEAD_BYTES = 1024
/** The largest frame a decoder accepts by default. */
export const DEFAULT_MAX_FRAME_BYTES = DEFAULT_MAX_MESSAGE_BYTES + FRAME_OVERHEAD_BYTES
/** Client roles announced in the handshake. */
export const Role = { client: 0, member: 1 } as const
export type Role = (typeof Role)[keyof typeof Role]
