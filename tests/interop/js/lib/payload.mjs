// Deterministic pseudo-random payloads and a streaming comparator for echo tests.

/**
 * Payload of `size` bytes: xorshift32 (13, 17, 5) words written little-endian,
 * the last word truncated. The state starts at
 *   (0x9E3779B9 ^ size ^ imul(index + 1, 0x85EBCA6B)) >>> 0, or 1 if that is 0,
 * so concurrent streams (index 0, 1, ...) carry different bytes and any
 * cross-talk between streams is detected.
 */
export function makePayload (size, index = 0) {
  const out = new Uint8Array(size)
  const words = new DataView(out.buffer)
  let x = (0x9E3779B9 ^ size ^ Math.imul(index + 1, 0x85EBCA6B)) >>> 0
  if (x === 0) x = 1
  let i = 0
  for (; i + 4 <= size; i += 4) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    words.setUint32(i, x, true)
  }
  if (i < size) {
    x ^= x << 13; x >>>= 0
    x ^= x >>> 17
    x ^= x << 5; x >>>= 0
    for (let k = 0; i < size; ++i, ++k) out[i] = (x >>> (8 * k)) & 0xff
  }
  return out
}

/** Compares received chunks against `expected` as they arrive; keeps no copy. */
export class StreamComparator {
  constructor (expected) {
    this.expected = expected
    this.received = 0
    this.firstMismatch = -1
    this.overflow = false
  }

  /** Feeds one chunk (Uint8Array or Uint8ArrayList). */
  push (chunk) {
    const bytes = chunk instanceof Uint8Array ? chunk : chunk.subarray()
    const base = this.received
    this.received += bytes.byteLength
    if (this.firstMismatch >= 0) return
    const n = Math.min(bytes.byteLength, Math.max(0, this.expected.byteLength - base))
    for (let k = 0; k < n; ++k) {
      if (bytes[k] !== this.expected[base + k]) {
        this.firstMismatch = base + k
        return
      }
    }
    if (n < bytes.byteLength) this.overflow = true // more bytes than were sent
  }

  /** Throws a descriptive error unless exactly the expected bytes arrived. */
  check (what) {
    if (this.firstMismatch >= 0) {
      throw new Error(`${what}: byte ${this.firstMismatch} differs (received ${this.received} of ${this.expected.byteLength})`)
    }
    if (this.overflow || this.received !== this.expected.byteLength) {
      throw new Error(`${what}: received ${this.received} bytes, expected ${this.expected.byteLength}`)
    }
  }
}
