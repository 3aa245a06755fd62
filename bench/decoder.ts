/**
 * Decoder micro-benchmark: how the time to cut frames grows with the number of chunks they
 * arrive in. A hostile client can send a frame one byte per read; the decoder's bookkeeping
 * must stay linear in the chunks (an Array#shift per chunk made it quadratic: ~40 s for the
 * 300 KB frame below). Each case runs at 1x and 4x its size: linear code takes about 4x as
 * long, quadratic about 16x.
 *
 *   npx tsx bench/decoder.ts
 */
import { FrameDecoder, FrameType, encodeFrames, nextFrame, type Frame } from '@herald/wire'

function timeMs(bytes: Uint8Array): number {
  const decoder = new FrameDecoder()
  const started = performance.now()
  for (let i = 0; i < bytes.length; i++) decoder.push(bytes.subarray(i, i + 1))
  let frames = 0
  while (nextFrame(decoder) !== null) frames++
  const ms = performance.now() - started
  if (decoder.buffered !== 0 || frames === 0) throw new Error('the decoder did not cut every frame')
  return ms
}

const cases: Record<string, (scale: number) => Frame[]> = {
  'one large frame': (k) => [{ type: FrameType.tunnelData, tunnel: 9, payload: new Uint8Array(300_000 * k) }],
  'many small frames': (k) => Array.from({ length: 40_000 * k }, (_, i) => ({ type: FrameType.pong, token: i })),
}

for (const [name, make] of Object.entries(cases)) {
  timeMs(encodeFrames(make(1))) // warm-up
  const one = timeMs(encodeFrames(make(1)))
  const four = timeMs(encodeFrames(make(4)))
  console.log(`${name.padEnd(18)} 1x ${one.toFixed(0).padStart(6)} ms   4x ${four.toFixed(0).padStart(6)} ms   ratio ${(four / one).toFixed(1)} (linear ~4, quadratic ~16)`)
}
