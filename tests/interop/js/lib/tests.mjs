// The dial-side tests of peer.mjs. Each test takes a context
//   { node, target (Multiaddr), opts (parsed CLI options), signal (AbortSignal) }
// and resolves to an object of figures (merged into the result line), or
// throws an Error whose message becomes the result's "error".

import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { ECHO_PROTOCOL, MAX_STREAMS_PER_PROTOCOL, SINK_PROTOCOL, identifyToJson, sendAll } from './node.mjs'
import { StreamComparator, makePayload } from './payload.mjs'

const CHUNK = 64 * 1024
const PING_PROTOCOL = '/ipfs/ping/1.0.0'
const PING_LENGTH = 32
const P2P_CODE = 421

const round3 = x => Math.round(x * 1000) / 1000

/** "Name: message", with the errors inside AggregateErrors and causes appended. */
export function errorText (err, depth = 0) {
  if (err == null) return 'unknown error'
  let text = typeof err === 'object' ? `${err.name ?? 'Error'}: ${err.message ?? ''}` : String(err)
  if (depth < 4 && Array.isArray(err.errors) && err.errors.length > 0) {
    text += ' [' + err.errors.map(e => errorText(e, depth + 1)).join('; ') + ']'
  }
  if (depth < 4 && err.cause != null) text += ` (cause: ${errorText(err.cause, depth + 1)})`
  return text
}

/** Opens a stream that is aborted (reset) when `signal` fires, so reads never outlive the test timeout. */
async function openStream (conn, protocol, signal) {
  const stream = await conn.newStream(protocol, { signal, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL })
  const onAbort = () => stream.abort(signal.reason ?? new Error('aborted'))
  signal.addEventListener('abort', onAbort, { once: true })
  stream.addEventListener('close', () => signal.removeEventListener('abort', onAbort), { once: true })
  return stream
}

/** One echo exchange: write payload in 64 KiB chunks, close write, read all back, compare. */
async function echoOnce (conn, size, index, signal) {
  const payload = makePayload(size, index)
  const stream = await openStream(conn, ECHO_PROTOCOL, signal)
  const cmp = new StreamComparator(payload)
  const reading = (async () => { for await (const chunk of stream) cmp.push(chunk) })()
  reading.catch(() => {}) // awaited below; avoid an unhandled rejection meanwhile
  try {
    for (let off = 0; off < size; off += CHUNK) {
      await sendAll(stream, payload.subarray(off, off + CHUNK), { signal })
    }
    await stream.close({ signal })
    await reading
  } catch (err) {
    stream.abort(err)
    throw err
  }
  cmp.check(`echo stream ${index} of ${size} bytes`)
}

function parseSizes (text) {
  const sizes = String(text).split(',').map(s => Number(s.trim()))
  if (sizes.length === 0 || sizes.some(n => !Number.isSafeInteger(n) || n < 0 || n > 1 << 30)) {
    throw new Error(`--sizes must be a comma-separated list of byte counts in [0, 2^30], got "${text}"`)
  }
  return sizes
}

function positiveInt (text, name, max) {
  const n = Number(text)
  if (!Number.isSafeInteger(n) || n <= 0 || n > max) throw new Error(`${name} must be an integer in [1, ${max}], got "${text}"`)
  return n
}

async function testEcho ({ node, target, opts, signal }) {
  const sizes = parseSizes(opts.sizes ?? '1,65536,16777216')
  const conn = await node.dial(target, { signal })
  const perSize = []
  for (const size of sizes) {
    const start = performance.now()
    await echoOnce(conn, size, 0, signal)
    perSize.push({ size, ms: round3(performance.now() - start) })
  }
  return { sizes, per_size: perSize }
}

async function testConcurrent ({ node, target, opts, signal }) {
  const streams = positiveInt(opts.streams ?? '100', '--streams', MAX_STREAMS_PER_PROTOCOL)
  const size = positiveInt(opts.size ?? '4096', '--size', 1 << 24)
  const conn = await node.dial(target, { signal })
  const start = performance.now()
  const results = await Promise.allSettled(Array.from({ length: streams }, (_, i) => echoOnce(conn, size, i, signal)))
  const failed = results.filter(r => r.status === 'rejected')
  const figures = { streams, size, failed: failed.length, elapsed_ms: round3(performance.now() - start) }
  if (failed.length > 0) {
    throw Object.assign(new Error(`${failed.length}/${streams} streams failed; first: ${failed[0].reason?.message ?? failed[0].reason}`), { figures })
  }
  return figures
}

/** Reads exactly n bytes from an async iterator over stream chunks. */
async function readExactly (iter, n, pending) {
  while (pending.bytes.length < n) {
    const { value, done } = await iter.next()
    if (done) throw new Error(`stream ended after ${pending.bytes.length} of ${n} bytes`)
    const chunk = value instanceof Uint8Array ? value : value.subarray()
    const merged = new Uint8Array(pending.bytes.length + chunk.length)
    merged.set(pending.bytes)
    merged.set(chunk, pending.bytes.length)
    pending.bytes = merged
  }
  const out = pending.bytes.subarray(0, n)
  pending.bytes = pending.bytes.subarray(n)
  return out
}

async function testPing ({ node, target, opts, signal }) {
  const count = positiveInt(opts.count ?? '10', '--count', 10_000)
  const conn = await node.dial(target, { signal })
  // 1. js-libp2p's own ping service: one 32-byte ping, then it closes the stream.
  const rttMs = await node.services.ping.ping(conn.remotePeer, { signal })
  // 2. `count` pings on one stream (the spec allows repeated pings per stream),
  //    timed with a sub-millisecond clock.
  const stream = await openStream(conn, PING_PROTOCOL, signal)
  const iter = stream[Symbol.asyncIterator]()
  const pending = { bytes: new Uint8Array(0) }
  const rtts = []
  try {
    for (let i = 0; i < count; ++i) {
      const data = crypto.getRandomValues(new Uint8Array(PING_LENGTH))
      const start = performance.now()
      await sendAll(stream, data, { signal })
      const echo = await readExactly(iter, PING_LENGTH, pending)
      rtts.push(performance.now() - start)
      if (!echo.every((b, k) => b === data[k])) throw new Error(`ping ${i}: wrong pong bytes`)
    }
    await stream.close({ signal })
    const rest = await iter.next() // the remote closes after our FIN
    if (!rest.done) throw new Error('unexpected bytes after the last pong')
  } catch (err) {
    stream.abort(err)
    throw err
  }
  rtts.sort((a, b) => a - b)
  return {
    rtt_ms: rttMs,
    count,
    rtt_min_ms: round3(rtts[0]),
    rtt_median_ms: round3(rtts[Math.floor(rtts.length / 2)]),
    rtt_max_ms: round3(rtts[rtts.length - 1])
  }
}

async function testIdentify ({ node, target, opts, signal }) {
  const expected = target.getComponents().findLast(c => c.code === P2P_CODE)?.value
  const identified = new Promise((resolve, reject) => {
    const onIdentify = (evt) => {
      if (expected == null || evt.detail.peerId.toString() === expected) {
        node.removeEventListener('peer:identify', onIdentify)
        resolve(evt.detail)
      }
    }
    node.addEventListener('peer:identify', onIdentify)
    signal.addEventListener('abort', () => reject(new Error('identify of the remote did not complete')), { once: true })
  })
  identified.catch(() => {})
  const conn = await node.dial(target, { signal })
  const result = identifyToJson(await identified)
  const wanted = opts['expect-protocols'] ? String(opts['expect-protocols']).split(',') : []
  const missing = wanted.filter(p => !result.protocols.includes(p))
  if (missing.length > 0) {
    throw Object.assign(new Error(`remote does not list protocols: ${missing.join(', ')}`), { figures: result })
  }
  return { ...result, remote_addr: conn.remoteAddr.toString() }
}

async function testThroughput ({ node, target, opts, signal }) {
  const bytes = positiveInt(opts.bytes ?? String(256 * 1024 * 1024), '--bytes', Number.MAX_SAFE_INTEGER)
  const conn = await node.dial(target, { signal })
  const chunk = makePayload(CHUNK, 7)
  const stream = await openStream(conn, SINK_PROTOCOL, signal)
  const iter = stream[Symbol.asyncIterator]()
  const pending = { bytes: new Uint8Array(0) }
  let count
  let seconds
  try {
    const start = performance.now()
    for (let off = 0; off < bytes; off += CHUNK) {
      await sendAll(stream, off + CHUNK <= bytes ? chunk : chunk.subarray(0, bytes - off), { signal })
    }
    await stream.close({ signal })
    const reply = await readExactly(iter, 8, pending)
    seconds = (performance.now() - start) / 1000
    count = new DataView(reply.buffer, reply.byteOffset, 8).getBigUint64(0, false)
    const rest = await iter.next()
    if (!rest.done || pending.bytes.length > 0) throw new Error('sink sent more than the 8-byte count')
  } catch (err) {
    stream.abort(err)
    throw err
  }
  if (count !== BigInt(bytes)) throw new Error(`sink counted ${count} bytes, sent ${bytes}`)
  return { bytes, chunk_size: CHUNK, seconds: round3(seconds), mb_per_s: round3(bytes / seconds / 1e6) }
}

async function testExpectFail ({ node, target, signal }) {
  // Whatever /p2p/ id the caller gave, dial a fresh random one: it cannot be the remote's.
  const wrongId = peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString()
  const wrongTarget = target.decapsulateCode(P2P_CODE).encapsulate(`/p2p/${wrongId}`)
  let conn
  try {
    conn = await node.dial(wrongTarget, { signal })
  } catch (err) {
    const text = errorText(err)
    if (/ECONNREFUSED|EHOSTUNREACH|ENETUNREACH/.test(text) || signal.aborted) {
      throw new Error(`remote not reachable, cannot tell whether it checks peer ids (${text})`)
    }
    return { dialed: wrongTarget.toString(), refusal: text }
  }
  await conn.close().catch(() => {})
  throw new Error(`dial of ${wrongTarget} succeeded; the remote claimed peer id ${conn.remotePeer}`)
}

export const TESTS = {
  echo: testEcho,
  concurrent: testConcurrent,
  ping: testPing,
  identify: testIdentify,
  throughput: testThroughput,
  'expect-fail': testExpectFail
}
