// A small, strict, allocation-free JSON reader over bytes in memory: enough to hand-parse a
// config block, a request or an op. Strings without escapes are returned in place (pointing into
// the input); strings with escapes are decoded into a reusable scratch buffer.

const MAX_DEPTH: i32 = 64;

/**
 * A cursor over one JSON text. Make one at module level and reset() it per call.
 *
 *   r.reset(ptr, len);
 *   if (!r.beginObject()) return reject(r.error);
 *   while (r.nextKey()) {
 *     if (r.keyIs("token")) { if (!r.readString()) return reject(r.error); ... r.strPtr, r.strLen }
 *     else if (!r.skipValue()) return reject(r.error);
 *   }
 *   if (!r.end()) return reject(r.error);
 *
 * Every method returns false on malformed input and sets `error` (a static message).
 */
export class JSONReader {
  /** The last string read (readString, nextKey): UTF-8 bytes, valid until the next read. */
  strPtr: usize = 0;
  strLen: i32 = 0;
  /** The last integer read (readInt). */
  intValue: i64 = 0;
  /** The last boolean read (readBool). */
  boolValue: bool = false;
  /** Why the last method returned false; "" when none did. */
  error: string = "";

  private p: usize = 0;
  private e: usize = 0;
  private first: bool = false; // inside an object: no member read yet
  private scratch: usize = 0;
  private scratchCap: i32 = 0;

  reset(ptr: usize, len: i32): void {
    this.p = ptr;
    this.e = ptr + <usize>(len < 0 ? 0 : len);
    this.error = "";
    this.first = false;
    this.strPtr = 0;
    this.strLen = 0;
  }

  private fail(msg: string): bool {
    if (this.error.length == 0) this.error = msg;
    return false;
  }

  @inline private ws(): void {
    let p = this.p;
    const e = this.e;
    while (p < e) {
      const c = load<u8>(p);
      if (c != 0x20 && c != 0x0a && c != 0x0d && c != 0x09) break;
      p++;
    }
    this.p = p;
  }

  /** The next non-space byte, or -1 at the end. */
  peek(): i32 {
    this.ws();
    return this.p < this.e ? <i32>load<u8>(this.p) : -1;
  }

  /** Reads "{" and prepares nextKey. */
  beginObject(): bool {
    if (this.peek() != 0x7b) return this.fail("expected a JSON object");
    this.p++;
    this.first = true;
    return true;
  }

  /**
   * Reads the next member's key (then read its value with a read* or skipValue call), or the
   * closing "}" (then it returns false with `error` empty). Objects may nest: after a nested
   * object's nextKey returned false, the outer one's next nextKey continues it.
   */
  nextKey(): bool {
    const c = this.peek();
    if (c == 0x7d) {
      this.p++;
      this.first = false;
      return false;
    }
    if (!this.first) {
      if (c != 0x2c) return this.fail("expected , or } in object");
      this.p++;
    }
    this.first = false;
    if (this.peek() != 0x22) return this.fail("expected a string key");
    if (!this.readString()) return false;
    if (this.peek() != 0x3a) return this.fail("expected : after key");
    this.p++;
    return true;
  }

  /** Whether the last key or string read equals `s` (compared as UTF-8). */
  keyIs(s: string): bool {
    const n = s.length;
    const p = this.strPtr;
    if (n > this.strLen) return false;
    // Fast path for ASCII literals.
    let i = 0;
    for (; i < n; i++) {
      const c = <u32>s.charCodeAt(i);
      if (c >= 0x80) break;
      if (<u32>load<u8>(p + <usize>i) != c) return false;
    }
    if (i == n) return n == this.strLen;
    const b = String.UTF8.encode(s);
    return b.byteLength == this.strLen && memory.compare(p, changetype<usize>(b), <usize>this.strLen) == 0;
  }

  /** Reads a string into strPtr/strLen (decoding escapes). */
  readString(): bool {
    if (this.peek() != 0x22) return this.fail("expected a string");
    let p = this.p + 1;
    const e = this.e;
    const start = p;
    // Fast path: no escapes, return in place.
    while (p < e) {
      const c = load<u8>(p);
      if (c == 0x22) {
        this.strPtr = start;
        this.strLen = <i32>(p - start);
        this.p = p + 1;
        return true;
      }
      if (c == 0x5c) break;
      if (c < 0x20) return this.fail("control character in string");
      p++;
    }
    if (p >= e) return this.fail("unterminated string");
    return this.readEscaped(start);
  }

  private scratchRoom(n: i32): void {
    if (n <= this.scratchCap) return;
    let c = this.scratchCap * 2;
    if (c < n) c = n;
    if (c < 256) c = 256;
    const q = heap.alloc(<usize>c);
    if (this.scratch != 0) heap.free(this.scratch);
    this.scratch = q;
    this.scratchCap = c;
  }

  private readEscaped(start: usize): bool {
    // The decoded string is never longer than the encoded one.
    const e = this.e;
    this.scratchRoom(<i32>(e - start));
    const out = this.scratch;
    let o: usize = 0;
    let p = start;
    while (p < e) {
      const c = load<u8>(p);
      if (c == 0x22) {
        this.strPtr = out;
        this.strLen = <i32>o;
        this.p = p + 1;
        return true;
      }
      if (c < 0x20) return this.fail("control character in string");
      if (c != 0x5c) {
        store<u8>(out + o, c);
        o++;
        p++;
        continue;
      }
      p++;
      if (p >= e) break;
      const x = load<u8>(p);
      p++;
      let ch: i32 = -1;
      switch (x) {
        case 0x22: ch = 0x22; break;
        case 0x5c: ch = 0x5c; break;
        case 0x2f: ch = 0x2f; break;
        case 0x62: ch = 0x08; break;
        case 0x66: ch = 0x0c; break;
        case 0x6e: ch = 0x0a; break;
        case 0x72: ch = 0x0d; break;
        case 0x74: ch = 0x09; break;
        case 0x75: {
          let u = hex4(p, e);
          if (u < 0) return this.fail("bad \\u escape");
          p += 4;
          if (u >= 0xd800 && u < 0xdc00) {
            // A high surrogate: pair it with a following \uDC00-\uDFFF, or emit U+FFFD.
            if (e - p >= 6 && load<u8>(p) == 0x5c && load<u8>(p + 1) == 0x75) {
              const l = hex4(p + 2, e);
              if (l >= 0xdc00 && l < 0xe000) {
                u = 0x10000 + ((u - 0xd800) << 10) + (l - 0xdc00);
                p += 6;
              } else {
                u = 0xfffd;
              }
            } else {
              u = 0xfffd;
            }
          } else if (u >= 0xdc00 && u < 0xe000) {
            u = 0xfffd;
          }
          o += putUTF8(out + o, <u32>u);
          continue;
        }
        default:
          return this.fail("bad escape in string");
      }
      store<u8>(out + o, <u8>ch);
      o++;
    }
    return this.fail("unterminated string");
  }

  /** Returns the last string read as a new AS string (allocates: use at init, not per call). */
  stringValue(): string {
    return String.UTF8.decodeUnsafe(this.strPtr, <usize>this.strLen);
  }

  /** Copies the last string read into a new buffer (allocates). */
  bytesValue(): ArrayBuffer {
    const b = new ArrayBuffer(this.strLen);
    memory.copy(changetype<usize>(b), this.strPtr, <usize>this.strLen);
    return b;
  }

  /** Reads a JSON integer (no fraction, no exponent) that fits an i64 into intValue. */
  readInt(): bool {
    this.ws();
    let p = this.p;
    const e = this.e;
    let neg = false;
    if (p < e && load<u8>(p) == 0x2d) {
      neg = true;
      p++;
    }
    if (p >= e) return this.fail("expected an integer");
    let c = load<u8>(p);
    if (c < 0x30 || c > 0x39) return this.fail("expected an integer");
    // Accumulate negatively so that i64.MIN_VALUE parses.
    let v: i64 = 0;
    if (c == 0x30) {
      p++;
    } else {
      while (p < e) {
        c = load<u8>(p);
        if (c < 0x30 || c > 0x39) break;
        const d = <i64>(c - 0x30);
        if (v < (i64.MIN_VALUE + d) / 10) return this.fail("integer out of range");
        v = v * 10 - d;
        p++;
      }
    }
    if (p < e) {
      c = load<u8>(p);
      if (c == 0x2e || c == 0x65 || c == 0x45) return this.fail("expected an integer, not a fraction");
      if (c >= 0x30 && c <= 0x39) return this.fail("leading zero in number");
    }
    if (!neg) {
      if (v == i64.MIN_VALUE) return this.fail("integer out of range");
      v = -v;
    }
    this.intValue = v;
    this.p = p;
    return true;
  }

  /** Reads true or false into boolValue. */
  readBool(): bool {
    this.ws();
    if (this.lit("true")) {
      this.boolValue = true;
      return true;
    }
    if (this.lit("false")) {
      this.boolValue = false;
      return true;
    }
    return this.fail("expected a boolean");
  }

  /** Reads null if it is next; returns whether it was. */
  readNull(): bool {
    this.ws();
    return this.lit("null");
  }

  private lit(s: string): bool {
    const n = s.length;
    if (<usize>n > this.e - this.p) return false;
    for (let i = 0; i < n; i++) {
      if (<u32>load<u8>(this.p + <usize>i) != <u32>s.charCodeAt(i)) return false;
    }
    this.p += <usize>n;
    return true;
  }

  /** Skips one value of any type, checking it is well formed. */
  skipValue(): bool {
    return this.skip(0);
  }

  private skip(depth: i32): bool {
    if (depth > MAX_DEPTH) return this.fail("JSON nested too deeply");
    const c = this.peek();
    switch (c) {
      case 0x22:
        return this.readString();
      case 0x7b: {
        this.p++;
        let first = true;
        while (true) {
          const d = this.peek();
          if (d == 0x7d) {
            this.p++;
            return true;
          }
          if (!first) {
            if (d != 0x2c) return this.fail("expected , or } in object");
            this.p++;
          }
          first = false;
          if (!this.readString()) return false;
          if (this.peek() != 0x3a) return this.fail("expected : after key");
          this.p++;
          if (!this.skip(depth + 1)) return false;
        }
      }
      case 0x5b: {
        this.p++;
        let first = true;
        while (true) {
          const d = this.peek();
          if (d == 0x5d) {
            this.p++;
            return true;
          }
          if (!first) {
            if (d != 0x2c) return this.fail("expected , or ] in array");
            this.p++;
          }
          first = false;
          if (!this.skip(depth + 1)) return false;
        }
      }
      case 0x74:
      case 0x66:
        return this.readBool();
      case 0x6e:
        return this.readNull() || this.fail("bad literal");
    }
    return this.skipNumber();
  }

  private skipNumber(): bool {
    let p = this.p;
    const e = this.e;
    if (p < e && load<u8>(p) == 0x2d) p++;
    let n = 0;
    if (p < e && load<u8>(p) == 0x30) {
      p++;
      n = 1;
    } else {
      while (p < e && isDigit(load<u8>(p))) {
        p++;
        n++;
      }
    }
    if (n == 0) return this.fail("expected a JSON value");
    if (p < e && load<u8>(p) == 0x2e) {
      p++;
      n = 0;
      while (p < e && isDigit(load<u8>(p))) {
        p++;
        n++;
      }
      if (n == 0) return this.fail("bad number");
    }
    if (p < e && (load<u8>(p) | 0x20) == 0x65) {
      p++;
      if (p < e && (load<u8>(p) == 0x2b || load<u8>(p) == 0x2d)) p++;
      n = 0;
      while (p < e && isDigit(load<u8>(p))) {
        p++;
        n++;
      }
      if (n == 0) return this.fail("bad number");
    }
    this.p = p;
    return true;
  }

  /** Checks that only whitespace is left. */
  end(): bool {
    if (this.error.length != 0) return false;
    if (this.peek() != -1) return this.fail("unexpected data after the JSON value");
    return true;
  }

  /** Whether the last nextKey() returned false because of an error rather than "}". */
  get failed(): bool {
    return this.error.length != 0;
  }
}

@inline
function isDigit(c: u8): bool {
  return c >= 0x30 && c <= 0x39;
}

function hex4(p: usize, e: usize): i32 {
  if (e - p < 4) return -1;
  let v = 0;
  for (let i: usize = 0; i < 4; i++) {
    const c = <i32>load<u8>(p + i);
    let d: i32;
    if (c >= 0x30 && c <= 0x39) d = c - 0x30;
    else if ((c | 0x20) >= 0x61 && (c | 0x20) <= 0x66) d = (c | 0x20) - 0x61 + 10;
    else return -1;
    v = (v << 4) | d;
  }
  return v;
}

function putUTF8(p: usize, c: u32): usize {
  if (c < 0x80) {
    store<u8>(p, <u8>c);
    return 1;
  }
  if (c < 0x800) {
    store<u8>(p, <u8>(0xc0 | (c >> 6)));
    store<u8>(p + 1, <u8>(0x80 | (c & 0x3f)));
    return 2;
  }
  if (c < 0x10000) {
    store<u8>(p, <u8>(0xe0 | (c >> 12)));
    store<u8>(p + 1, <u8>(0x80 | ((c >> 6) & 0x3f)));
    store<u8>(p + 2, <u8>(0x80 | (c & 0x3f)));
    return 3;
  }
  store<u8>(p, <u8>(0xf0 | (c >> 18)));
  store<u8>(p + 1, <u8>(0x80 | ((c >> 12) & 0x3f)));
  store<u8>(p + 2, <u8>(0x80 | ((c >> 6) & 0x3f)));
  store<u8>(p + 3, <u8>(0x80 | (c & 0x3f)));
  return 4;
}
