import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { InvalidSettingError, parseDuration, parseProbability, parseRate, parseSize } from '../src/index.js'
import { parseAddress } from '../src/control/address.js'

const rejects = (fn: () => unknown, message: RegExp): void => {
  expect(fn).toThrow(InvalidSettingError)
  expect(fn).toThrow(message)
}

describe('durations', () => {
  it('reads ms, s, m and bare milliseconds', () => {
    expect(parseDuration('250ms')).toBe(250)
    expect(parseDuration('1s')).toBe(1000)
    expect(parseDuration('1.5s')).toBe(1500)
    expect(parseDuration('2m')).toBe(120_000)
    expect(parseDuration('250')).toBe(250)
    expect(parseDuration(' 5 ms ')).toBe(5)
    expect(parseDuration('0')).toBe(0)
  })

  it('refuses negatives, unknown units and garbage, naming the setting', () => {
    rejects(() => parseDuration('-5ms', 'latency'), /^latency must not be negative, got "-5ms"$/)
    rejects(() => parseDuration('5h', 'latency'), /unknown unit "h"/)
    rejects(() => parseDuration('soon', 'stall'), /^stall must be a duration/)
    rejects(() => parseDuration('25m0', 'x'), /must be a duration/)
    rejects(() => parseDuration('100000s', 'x'), /at most 24h/)
  })

  it('round-trips any non-negative number of milliseconds', () => {
    fc.assert(fc.property(fc.double({ min: 0, max: 1e6, noNaN: true }), (n) => {
      expect(parseDuration(`${n}ms`)).toBe(n)
    }), { numRuns: 200 })
  })
})

describe('rates', () => {
  it('reads bits (SI) and bytes, with or without /s', () => {
    expect(parseRate('1mbit')).toBe(125_000)
    expect(parseRate('500kbit')).toBe(62_500)
    expect(parseRate('1Mbit/s')).toBe(125_000)
    expect(parseRate('2gbit')).toBe(250_000_000)
    expect(parseRate('125kB')).toBe(125_000)
    expect(parseRate('125kB/s')).toBe(125_000)
    expect(parseRate('1MiB')).toBe(1024 * 1024)
    expect(parseRate('off')).toBe(Infinity)
    expect(parseRate('unlimited')).toBe(Infinity)
  })

  it('refuses zero, negatives, ambiguous and unit-less rates', () => {
    rejects(() => parseRate('0'), /^bandwidth must be greater than 0, got "0"/)
    rejects(() => parseRate('0mbit'), /must be greater than 0/)
    rejects(() => parseRate('-1mbit'), /must not be negative/)
    rejects(() => parseRate('1mbps'), /ambiguous/)
    rejects(() => parseRate('1kb'), /ambiguous/)
    rejects(() => parseRate('1000'), /needs a unit/)
    rejects(() => parseRate('3 furlongs'), /must be a rate|unknown unit/)
  })
})

describe('sizes and probabilities', () => {
  it('reads sizes', () => {
    expect(parseSize('1460')).toBe(1460)
    expect(parseSize('64KiB')).toBe(65_536)
    expect(parseSize('16kB')).toBe(16_000)
    rejects(() => parseSize('1.5'), /whole number/)
    rejects(() => parseSize('-1'), /must not be negative/)
  })

  it('reads percentages and fractions, and refuses 100% and more', () => {
    expect(parseProbability('10%')).toBeCloseTo(0.1, 12)
    expect(parseProbability('0.1')).toBe(0.1)
    expect(parseProbability('0')).toBe(0)
    rejects(() => parseProbability('150%', 'loss'), /^loss must be at least 0 and below 100%, got "150%"$/)
    rejects(() => parseProbability('100%', 'loss'), /below 100%/)
    rejects(() => parseProbability('1.5', 'loss'), /below 100%/)
    rejects(() => parseProbability('-1%', 'loss'), /below 100%/)
    rejects(() => parseProbability('10x', 'loss'), /percentage or a fraction/)
  })
})

describe('addresses', () => {
  it('reads host:port, [v6]:port, :port and port (loopback by default)', () => {
    expect(parseAddress('10.0.0.1:80', 't')).toEqual({ host: '10.0.0.1', port: 80 })
    expect(parseAddress('[::1]:8080', 't')).toEqual({ host: '::1', port: 8080 })
    expect(parseAddress(':9000', 't')).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(parseAddress('9000', 't')).toEqual({ host: '127.0.0.1', port: 9000 })
    expect(parseAddress('127.0.0.1:0', 'l', true)).toEqual({ host: '127.0.0.1', port: 0 })
  })

  it('refuses port 0 for a target, ports past 65535 and garbage', () => {
    rejects(() => parseAddress('127.0.0.1:0', '--target'), /port must be 1 to 65535/)
    rejects(() => parseAddress('h:70000', '--target'), /port must be/)
    rejects(() => parseAddress('nowhere', '--target'), /must be HOST:PORT/)
  })
})
