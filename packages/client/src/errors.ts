import { ErrorCode } from '@herald/wire'

/** The closed set of error codes an application can see. */
export type HeraldErrorCode =
  | 'TIMEOUT' | 'REMOTE' | 'NO_MEMBERS' | 'MEMBER_LOST' | 'CLOSED' | 'TOO_LARGE' | 'KEY'
  | 'PROTOCOL' | 'LIMIT' | 'INVALID' | 'OVERLOADED' | 'UNAVAILABLE'

export interface HeraldErrorOptions { cause?: unknown }

/** The base of every error the SDK throws. Match on `code` or on the subclass, never on the text. */
export class HeraldError extends Error {
  override name = 'HeraldError'
  readonly code: HeraldErrorCode
  constructor(code: HeraldErrorCode, message: string, options?: HeraldErrorOptions) {
    super(message, options)
    this.code = code
  }
}

export class TimeoutError extends HeraldError {
  override name = 'TimeoutError'
  constructor(message = 'timed out', options?: HeraldErrorOptions) { super('TIMEOUT', message, options) }
}
/** The member's handler threw; `message` is its message. */
export class RemoteError extends HeraldError {
  override name = 'RemoteError'
  constructor(message: string, options?: HeraldErrorOptions) { super('REMOTE', message, options) }
}
export class NoMembersError extends HeraldError {
  override name = 'NoMembersError'
  constructor(message = 'no members', options?: HeraldErrorOptions) { super('NO_MEMBERS', message, options) }
}
/** The member serving a request or tunnel went away before answering. */
export class MemberLostError extends HeraldError {
  override name = 'MemberLostError'
  constructor(message = 'member lost', options?: HeraldErrorOptions) { super('MEMBER_LOST', message, options) }
}
/** The connection, subscription or tunnel is closed. */
export class ClosedError extends HeraldError {
  override name = 'ClosedError'
  constructor(message = 'closed', options?: HeraldErrorOptions) { super('CLOSED', message, options) }
}
export class MessageTooLargeError extends HeraldError {
  override name = 'MessageTooLargeError'
  constructor(message: string, options?: HeraldErrorOptions) { super('TOO_LARGE', message, options) }
}
/** A cluster key is missing or wrong: the payload cannot be sealed or opened. */
export class KeyError extends HeraldError {
  override name = 'KeyError'
  constructor(message: string, options?: HeraldErrorOptions) { super('KEY', message, options) }
}

/** Translates a numeric wire code (FAILURE, ACK, TUNNEL_CLOSE, ERROR frames) into an SDK error. */
export function errorFromWire(code: number, message: string): HeraldError {
  switch (code) {
    case ErrorCode.timeout: return new TimeoutError(message || 'timed out')
    case ErrorCode.remote: return new RemoteError(message)
    case ErrorCode.noMembers: return new NoMembersError(message || 'no members')
    case ErrorCode.memberLost: return new MemberLostError(message || 'member lost')
    case ErrorCode.closed: case ErrorCode.shutdown: return new ClosedError(message || 'closed')
    case ErrorCode.tooLarge: return new MessageTooLargeError(message || 'message too large')
    case ErrorCode.key: return new KeyError(message || 'key error')
    case ErrorCode.limit: return new HeraldError('LIMIT', message || 'limit exceeded')
    case ErrorCode.invalid: return new HeraldError('INVALID', message || 'invalid')
    case ErrorCode.overloaded: return new HeraldError('OVERLOADED', message || 'overloaded')
    default: return new HeraldError('PROTOCOL', message || `protocol error (code ${code})`)
  }
}
