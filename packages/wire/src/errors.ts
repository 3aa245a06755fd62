/**
 * Numeric error codes carried by FAILURE, ACK, TUNNEL_CLOSE, CLOSE and ERROR frames.
 * The set is closed: a decoder maps unknown numbers to `unknown`.
 */
export const ErrorCode = {
  ok: 0,
  timeout: 1,
  remote: 2,
  noMembers: 3,
  memberLost: 4,
  closed: 5,
  tooLarge: 6,
  key: 7,
  protocol: 8,
  limit: 9,
  invalid: 10,
  shutdown: 11,
  overloaded: 12,
  version: 13,
  unknown: 65535,
} as const
export type ErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode]

const known = new Set<number>(Object.values(ErrorCode))
export function toErrorCode(n: number): ErrorCode {
  return known.has(n) ? (n as ErrorCode) : ErrorCode.unknown
}

/** The one error a decoder raises for malformed input. */
export class WireError extends Error {
  override readonly name = 'WireError'
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string) {
    super(message)
    this.code = code
  }
}
