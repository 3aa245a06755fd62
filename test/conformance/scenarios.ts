/**
 * The conformance scenarios (conformance/scenarios/*.json) and their values: payloads, frames
 * and frame patterns, as conformance/README.md defines them.
 */
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import {
  ClosedError, HeraldError, KeyError, MemberLostError, MessageTooLargeError, NoMembersError, RemoteError, TimeoutError,
} from '@herald/client'
import { ErrorCode, FrameType, encodeFrame, type Frame } from '@herald/wire'
import { ROOT } from '../harness.js'

export type PayloadSpec = string | { hex: string } | { size: number }
export type PayloadList = PayloadSpec[] | { template: string; count: number } | { count: number; size: number }
export type FrameSpec = Record<string, unknown> & ({ hex: string } | { type: string })
export interface Expect { error?: string; message?: string; reply?: PayloadSpec; max_message_bytes?: number }

/** One step; which fields it uses depends on `op` (conformance/README.md, "Steps"). */
export interface Step {
  op: string
  as?: string
  pending?: boolean
  of?: string
  relay?: number
  port?: 'unused'
  timeout_ms?: number
  cluster_keys?: Record<string, string[]>
  topic_keys?: Record<string, string[]>
  cluster?: string
  topic?: string
  limits?: Record<string, number>
  key?: string[]
  on_request?: string | { fail?: string; prefix?: string }
  on_tunnel?: string | { close_after?: number }
  conn?: string
  member?: string
  sub?: string
  tunnel?: string
  raw?: string
  payload?: PayloadSpec
  payloads?: PayloadList
  memory?: number
  dropped?: number
  requests?: number
  size?: number
  sent?: number
  end?: string
  error?: string
  frames?: FrameSpec[]
  then?: 'closed'
  expect?: Expect
}

export interface FakeAction {
  expect?: Record<string, unknown> & { type: string }
  send?: FrameSpec[]
  send_bytewise?: FrameSpec[]
  close?: boolean
  expect_end?: boolean
}

export interface ScenarioSpec {
  name: string
  about: string
  requires?: string
  relays?: Array<{ args?: string[]; join?: number }>
  fake_relay?: FakeAction[]
  steps: Step[]
}

export interface Scenario { suite: string; spec: ScenarioSpec }

const DIR = join(ROOT, 'conformance', 'scenarios')
/** Tags of scenarios to run besides the default set: a scenario marked `"requires": tag` checks a rule the relay does not follow yet. */
const INCLUDE = new Set((process.env['HERALD_CONFORMANCE_INCLUDE'] ?? '').split(',').filter((t) => t !== ''))

export function loadScenarios(): Scenario[] {
  const out: Scenario[] = []
  for (const file of readdirSync(DIR).filter((f) => f.endsWith('.json')).sort()) {
    const doc = JSON.parse(readFileSync(join(DIR, file), 'utf8')) as { suite: string; scenarios: ScenarioSpec[] }
    for (const spec of doc.scenarios) {
      if (spec.requires === undefined || INCLUDE.has(spec.requires)) out.push({ suite: doc.suite, spec })
    }
  }
  return out
}

export const ERROR_CLASSES: Record<string, new (...args: never[]) => HeraldError> = {
  TIMEOUT: TimeoutError, REMOTE: RemoteError, NO_MEMBERS: NoMembersError, MEMBER_LOST: MemberLostError,
  CLOSED: ClosedError, TOO_LARGE: MessageTooLargeError, KEY: KeyError,
}

const PATTERN = Buffer.from(Array.from({ length: 502 }, (_, j) => j % 251))

function repeatTo(start: number, n: number): Buffer {
  const out = Buffer.allocUnsafe(n)
  for (let p = 0; p < n; p += 251) PATTERN.copy(out, p, start, start + Math.min(251, n - p))
  return out
}

export function payload(spec: PayloadSpec): Buffer {
  if (typeof spec === 'string') return Buffer.from(spec, 'utf8')
  if ('hex' in spec) return Buffer.from(spec.hex, 'hex')
  return repeatTo(0, spec.size)
}

/** Message i of `{"count": n, "size": size}`: i as u32 BE, then (i + j) mod 251. */
export function numbered(i: number, size: number): Buffer {
  const out = Buffer.allocUnsafe(size)
  out.writeUInt32BE(i, 0)
  repeatTo((i + 4) % 251, size - 4).copy(out, 4)
  return out
}

export function payloads(spec: PayloadList): Buffer[] {
  if (Array.isArray(spec)) return spec.map(payload)
  if ('template' in spec) return Array.from({ length: spec.count }, (_, i) => Buffer.from(spec.template.replace('{i}', String(i)), 'utf8'))
  return Array.from({ length: spec.count }, (_, i) => numbered(i, spec.size))
}

/** Captured frame fields (`{"var": name}` in later frames). */
export class Vars extends Map<string, unknown> {
  resolve(v: unknown): unknown {
    if (typeof v === 'object' && v !== null && 'var' in v && Object.keys(v).length === 1) {
      const name = String((v as { var: unknown }).var)
      if (!this.has(name)) throw new Error(`nothing captured as "${name}"`)
      return this.get(name)
    }
    return v
  }
}

const typeOf = (name: string): number => {
  const key = name.toLowerCase().replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) as keyof typeof FrameType
  const t = FrameType[key]
  if (t === undefined) throw new Error(`unknown frame type ${name}`)
  return t
}
const nameOf = (type: number): string =>
  (Object.entries(FrameType).find(([, v]) => v === type)?.[0] ?? `0x${type.toString(16)}`).replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase()
const codeOf = (v: unknown): number => (typeof v === 'number' ? v : ErrorCode[v as keyof typeof ErrorCode])

function fieldValue(k: string, v: unknown): unknown {
  if (k === 'code') return codeOf(v)
  if (k === 'payload') return payload(v as PayloadSpec)
  return v
}

export function encode(spec: FrameSpec, vars: Vars): Uint8Array {
  if (typeof spec.hex === 'string') return Buffer.from(spec.hex, 'hex')
  const frame: Record<string, unknown> = { type: typeOf(String(spec.type)) }
  for (const [k, v] of Object.entries(spec)) if (k !== 'type') frame[k] = fieldValue(k, vars.resolve(v))
  return encodeFrame(frame as unknown as Frame)
}

export function describe(frame: Frame): string {
  const parts = [nameOf(frame.type)]
  for (const [k, v] of Object.entries(frame)) {
    if (k === 'type') continue
    parts.push(`${k}=${v instanceof Uint8Array ? `<${v.length} bytes>` : JSON.stringify(v)}`)
  }
  return parts.join(' ')
}

/** Undefined when `frame` matches `pattern`, else what differs. Captures on a match. */
export function matches(pattern: Record<string, unknown> & { type: string }, frame: Frame, vars: Vars): string | undefined {
  if (frame.type !== typeOf(pattern.type)) return `expected ${pattern.type}, got ${describe(frame)}`
  const fields = frame as unknown as Record<string, unknown>
  for (const [k, v] of Object.entries(pattern)) {
    if (k === 'type' || k === 'capture') continue
    const want = fieldValue(k, vars.resolve(v))
    const got = fields[k]
    const same = want instanceof Uint8Array ? got instanceof Uint8Array && Buffer.from(got.buffer, got.byteOffset, got.byteLength).equals(want) : got === want
    if (!same) return `${pattern.type}.${k}: expected ${JSON.stringify(v)}, got ${describe(frame)}`
  }
  for (const [field, name] of Object.entries((pattern['capture'] ?? {}) as Record<string, string>)) vars.set(name, fields[field])
  return undefined
}
