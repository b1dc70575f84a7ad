// Builds the js-libp2p node used by peer.mjs: TCP + Noise + Yamux only, with
// identify and ping, and the two hivemind-cpp interop protocols:
//   /hm/echo/1.0.0  echo every byte back until the remote closes its write
//                   side, then close our write side.
//   /hm/sink/1.0.0  read until the remote closes its write side, then write
//                   the byte count as 8 bytes big-endian and close.

import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { generateKeyPair, generateKeyPairFromSeed } from '@libp2p/crypto/keys'
import { identify } from '@libp2p/identify'
import { ping } from '@libp2p/ping'
import { tcp } from '@libp2p/tcp'
import { createLibp2p } from 'libp2p'

export const ECHO_PROTOCOL = '/hm/echo/1.0.0'
export const SINK_PROTOCOL = '/hm/sink/1.0.0'

/** Streams per protocol and connection that we accept or open (js default: 32 in, 64 out). */
export const MAX_STREAMS_PER_PROTOCOL = 1024

/** Writes one JSON object as one line on stdout. */
export function emit (obj) {
  process.stdout.write(JSON.stringify(obj) + '\n')
}

/** Parses a 64-digit hex seed into 32 bytes; throws with a clear message otherwise. */
export function parseSeed (hex) {
  if (typeof hex !== 'string' || !/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw new Error('--seed must be 64 hex digits (32 bytes)')
  }
  return Uint8Array.from(Buffer.from(hex, 'hex'))
}

/** Ed25519 key from a 32-byte seed, or a random one when seed is null. */
export async function makePrivateKey (seed) {
  return seed == null ? generateKeyPair('Ed25519') : generateKeyPairFromSeed('Ed25519', seed)
}

/** Sends data honouring back-pressure: waits for 'drain' when send() says so. */
export async function sendAll (stream, data, options) {
  if (!stream.send(data)) {
    await stream.onDrain(options)
  }
}

function chunkBytes (chunk) {
  return chunk.byteLength
}

async function handleEcho (stream, connection) {
  let bytes = 0
  try {
    for await (const chunk of stream) {
      bytes += chunkBytes(chunk)
      await sendAll(stream, chunk)
    }
    await stream.close()
    emit({ event: 'stream_done', protocol: ECHO_PROTOCOL, peer_id: connection.remotePeer.toString(), bytes_in: bytes, bytes_out: bytes })
  } catch (err) {
    stream.abort(err)
    emit({ event: 'stream_error', protocol: ECHO_PROTOCOL, peer_id: connection.remotePeer.toString(), bytes_in: bytes, error: String(err?.message ?? err) })
  }
}

async function handleSink (stream, connection) {
  let bytes = 0
  try {
    for await (const chunk of stream) {
      bytes += chunkBytes(chunk)
    }
    const count = new Uint8Array(8)
    new DataView(count.buffer).setBigUint64(0, BigInt(bytes), false)
    await sendAll(stream, count)
    await stream.close()
    emit({ event: 'stream_done', protocol: SINK_PROTOCOL, peer_id: connection.remotePeer.toString(), bytes_in: bytes, bytes_out: 8 })
  } catch (err) {
    stream.abort(err)
    emit({ event: 'stream_error', protocol: SINK_PROTOCOL, peer_id: connection.remotePeer.toString(), bytes_in: bytes, error: String(err?.message ?? err) })
  }
}

/** Converts an IdentifyResult (the 'peer:identify' event detail) to plain JSON fields. */
export function identifyToJson (result) {
  return {
    peer_id: result.peerId.toString(),
    protocols: [...result.protocols].sort(),
    listen_addrs: result.listenAddrs.map(a => a.toString()),
    observed_addr: result.observedAddr?.toString() ?? null,
    agent_version: result.agentVersion ?? null,
    protocol_version: result.protocolVersion ?? null,
    has_public_key: result.publicKey != null,
    has_signed_peer_record: result.signedPeerRecord != null
  }
}

/**
 * Creates and starts a node.
 * @param {object} opts
 * @param {Uint8Array|null} opts.seed 32-byte Ed25519 seed, or null for a random key
 * @param {number|null} opts.listenPort TCP port on 127.0.0.1 (0 = any), or null to not listen
 * @param {boolean} opts.connectionMonitor keep js-libp2p's 10 s ping heartbeat (default on in js-libp2p)
 */
export async function startNode ({ seed, listenPort, connectionMonitor }) {
  const privateKey = await makePrivateKey(seed)
  const node = await createLibp2p({
    start: false, // register the handlers first, so identify advertises them
    privateKey,
    addresses: { listen: listenPort == null ? [] : [`/ip4/127.0.0.1/tcp/${listenPort}`] },
    transports: [tcp()],
    connectionEncrypters: [noise()],
    streamMuxers: [yamux()],
    services: { identify: identify(), ping: ping() },
    connectionMonitor: { enabled: connectionMonitor },
    connectionManager: {
      // C++ tests open many connections from 127.0.0.1 in a short time; the js
      // default rate limit (5 per second per host) would refuse them.
      inboundConnectionThreshold: 10_000,
      maxIncomingPendingConnections: 256,
      dialTimeout: 30_000
    }
  })
  const handlerOptions = { maxInboundStreams: MAX_STREAMS_PER_PROTOCOL, maxOutboundStreams: MAX_STREAMS_PER_PROTOCOL }
  await node.handle(ECHO_PROTOCOL, handleEcho, handlerOptions)
  await node.handle(SINK_PROTOCOL, handleSink, handlerOptions)
  await node.start()
  return node
}
