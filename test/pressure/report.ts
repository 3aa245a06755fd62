/** What an agent reports (agent.ts `stop`/`report`), as the scenario reads it. */
import type { RequestRecord, SenderTrack, TunnelError } from './agent-loops.js'

export interface RequestLoopReport {
  cluster: string
  timeoutMs: number
  records: RequestRecord[]
  /** Sent and not settled when the report was made. */
  outstanding: number
  skipped: number
}

export interface TunnelReport {
  bytesSent: number
  bytesEchoed: number
  maxAhead: number
  mismatches: number
  opened: number
  openTimes: number[]
  echoTimes: number[]
  errors: TunnelError[]
  unechoed: number
}

export interface AgentReport {
  tag: string
  requests: RequestLoopReport[]
  /** Send time of each event published (index = sequence number). */
  published: number[]
  publishErrors: number
  broadcastsSent: number[]
  /** By topic, then by publisher tag. */
  topics: Record<string, Record<string, SenderTrack>>
  eventsMalformed: number
  /** Events the SDK reported dropped for this agent's subscriptions (its own and the relay's). */
  eventsDropped: number
  broadcasts: Record<string, SenderTrack>
  broadcastsDropped: number
  served: { requests: number; tunnels: number; tunnelMessages: number }
  tunnel: TunnelReport | undefined
}
