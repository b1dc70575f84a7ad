// js-libp2p interop peer for hivemind-cpp (TCP + Noise + Yamux, identify, ping).
// Talks JSON lines on stdout; see docs/protocols/interop.md. Run it through
// run_node.sh, which picks the pinned Node 22.
//
//   peer.mjs listen [--seed HEX32] [--port 0] [--ignore-stdin] [--no-connection-monitor]
//   peer.mjs dial MULTIADDR --test NAME [--seed HEX32] [--timeout 60] [test options]
//
// Exit codes: 0 ok, 1 test failed (or listener crashed), 2 usage error.
import './lib/polyfill.mjs' // must stay the first import
import { setMaxListeners } from 'node:events'
import { parseArgs } from 'node:util'
import { multiaddr } from '@multiformats/multiaddr'
import { emit, identifyToJson, parseSeed, startNode } from './lib/node.mjs'
import { TESTS, errorText } from './lib/tests.mjs'

const USAGE = `usage:
  peer.mjs listen [--seed HEX32] [--port N] [--ignore-stdin] [--no-connection-monitor]
  peer.mjs dial MULTIADDR --test ${Object.keys(TESTS).join('|')} [--seed HEX32] [--timeout SECONDS]
      echo        [--sizes 1,65536,16777216]
      concurrent  [--streams 100] [--size 4096]
      ping        [--count 10]
      identify    [--expect-protocols /a/1.0.0,/b/1.0.0]
      throughput  [--bytes 268435456]
      expect-fail`

const OPTIONS = {
  seed: { type: 'string' },
  port: { type: 'string' },
  test: { type: 'string' },
  timeout: { type: 'string' },
  sizes: { type: 'string' },
  streams: { type: 'string' },
  size: { type: 'string' },
  count: { type: 'string' },
  bytes: { type: 'string' },
  'expect-protocols': { type: 'string' },
  'ignore-stdin': { type: 'boolean' },
  'no-connection-monitor': { type: 'boolean' },
  help: { type: 'boolean' }
}

function seedOrUsageError (hex) {
  try {
    return hex == null ? null : parseSeed(hex)
  } catch (err) {
    return usageError(err.message)
  }
}

function usageError (message) {
  emit({ event: 'error', error: message })
  process.stderr.write(USAGE + '\n')
  process.exit(2)
}

async function stopQuietly (node) {
  await Promise.race([node.stop(), new Promise(resolve => setTimeout(resolve, 5000).unref())]).catch(() => {})
}

async function runListen (values) {
  const port = Number(values.port ?? '0')
  if (!Number.isInteger(port) || port < 0 || port > 65535) usageError(`--port must be in [0, 65535], got "${values.port}"`)
  const node = await startNode({
    seed: seedOrUsageError(values.seed),
    listenPort: port,
    connectionMonitor: !values['no-connection-monitor']
  })
  node.addEventListener('connection:open', (evt) => {
    const conn = evt.detail
    if (conn.direction === 'inbound') {
      emit({ event: 'connection', peer_id: conn.remotePeer.toString(), remote_addr: conn.remoteAddr.toString() })
    }
  })
  node.addEventListener('peer:identify', (evt) => emit({ event: 'identify', ...identifyToJson(evt.detail) }))
  let stopping = false
  const shutdown = async (why) => {
    if (stopping) return
    stopping = true
    await stopQuietly(node)
    emit({ event: 'stopped', reason: why })
    process.exit(0)
  }
  process.on('SIGTERM', () => shutdown('SIGTERM'))
  process.on('SIGINT', () => shutdown('SIGINT'))
  if (!values['ignore-stdin']) {
    process.stdin.on('end', () => shutdown('stdin closed'))
    process.stdin.on('error', () => shutdown('stdin error'))
    process.stdin.resume()
  }
  emit({ event: 'listening', peer_id: node.peerId.toString(), addrs: node.getMultiaddrs().map(a => a.toString()) })
}

async function runDial (values, positionals) {
  const test = TESTS[values.test]
  if (test == null) usageError(`--test must be one of ${Object.keys(TESTS).join(', ')}, got "${values.test}"`)
  if (positionals.length !== 1) usageError('dial needs exactly one multiaddr')
  const timeoutS = Number(values.timeout ?? '60')
  if (!(timeoutS > 0 && timeoutS <= 3600)) usageError(`--timeout must be in (0, 3600] seconds, got "${values.timeout}"`)
  const seed = seedOrUsageError(values.seed)
  let printed = false
  const finish = (fields, ok) => {
    if (printed) return
    printed = true
    emit({ event: 'result', test: values.test, ok, ...fields })
  }
  // Hard stop a few seconds after the soft timeout, whatever is still pending.
  setTimeout(() => {
    finish({ error: `timed out after ${timeoutS} s` }, false)
    process.exit(1)
  }, (timeoutS + 5) * 1000).unref()
  let target
  let node
  try {
    target = multiaddr(positionals[0])
    node = await startNode({
      seed,
      listenPort: null,
      connectionMonitor: !values['no-connection-monitor']
    })
  } catch (err) {
    finish({ error: errorText(err) }, false)
    process.exit(1)
  }
  const signal = AbortSignal.timeout(timeoutS * 1000)
  setMaxListeners(Infinity, signal) // shared by up to 1024 concurrent streams
  let ok = false
  try {
    const figures = await test({ node, target, opts: values, signal })
    ok = true
    finish({ local_peer_id: node.peerId.toString(), ...figures }, true)
  } catch (err) {
    const why = signal.aborted ? `timed out after ${timeoutS} s: ${errorText(err)}` : errorText(err)
    finish({ local_peer_id: node.peerId.toString(), ...(err?.figures ?? {}), error: why }, false)
  }
  await stopQuietly(node)
  process.exit(ok ? 0 : 1)
}

process.on('unhandledRejection', (err) => {
  process.stderr.write(JSON.stringify({ event: 'warning', error: errorText(err) }) + '\n')
})

let parsed
try {
  parsed = parseArgs({ args: process.argv.slice(2), options: OPTIONS, allowPositionals: true, strict: true })
} catch (err) {
  usageError(err.message)
}
const [command, ...rest] = parsed.positionals
if (parsed.values.help) {
  process.stdout.write(USAGE + '\n')
  process.exit(0)
}
try {
  if (command === 'listen' && rest.length === 0) {
    await runListen(parsed.values)
  } else if (command === 'dial') {
    await runDial(parsed.values, rest)
  } else {
    usageError(`unknown command "${parsed.positionals.join(' ')}"`)
  }
} catch (err) {
  emit({ event: 'error', error: errorText(err) })
  process.exit(1)
}
