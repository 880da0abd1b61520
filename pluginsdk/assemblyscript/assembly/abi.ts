// OpStream WASM ABI v1, guest side, for AssemblyScript (docs/plugins.md).
//
// Like the Go SDK (pluginsdk/wasm/guest.go), the state shared between calls lives in globals:
// an instance is single-threaded, the host writes a call's input into the buffer handed out by
// opstream_buffer, and a result stays valid until the next call into the instance.
//
// Nothing here allocates per call once the buffers have grown to fit the largest input and
// result, so modules built with `--runtime stub` (no garbage collector) can run forever as long
// as their own per-call code does not allocate either.

/** The ABI version this SDK implements. */
export const ABI_VERSION: i32 = 1;

/** Result statuses: the first byte of every result. */
export const STATUS_OK: u8 = 0;
export const STATUS_REJECTED: u8 = 1;
export const STATUS_ERROR: u8 = 2;

/** Sides for transform. */
export const SIDE_LEFT: i32 = 0;
export const SIDE_RIGHT: i32 = 1;

/** The smallest buffer allocated, so small calls never reallocate. */
const MIN_BUFFER: i32 = 4096;

// ---------------------------------------------------------------------------------------------
// Input buffer.

let inPtr: usize = 0;
let inCap: i32 = 0;
let inLen: i32 = 0;

function grow(cap: i32, want: i32): i32 {
  let n = cap * 2;
  if (n < want) n = want;
  if (n < MIN_BUFFER) n = MIN_BUFFER;
  return n;
}

/**
 * opstream_buffer: returns a pointer to at least `size` bytes the host writes the next call's
 * input into. The buffer is reused and only grows (geometrically). Re-export it from your
 * module's entry file (`export * from ".../exports"` does).
 */
export function opstreamBuffer(size: i32): i32 {
  if (size < 0) size = 0;
  if (size > inCap || inPtr == 0) {
    const n = grow(inCap, size);
    if (inPtr != 0) heap.free(inPtr);
    inPtr = heap.alloc(<usize>n);
    inCap = n;
  }
  inLen = size;
  return <i32>inPtr;
}

/**
 * Returns the address of the current call's input, or 0 when `len` (the call's final `len`
 * parameter) does not fit what the host asked for with opstream_buffer. The bytes are valid
 * during the call only.
 */
export function input(len: i32): usize {
  if (len < 0 || len > inLen || inPtr == 0) return 0;
  return inPtr;
}

// ---------------------------------------------------------------------------------------------
// Result buffer. A result is begun with a status, payload bytes are appended, and finish()
// packs pointer<<32 | length for the host.

let outPtr: usize = 0;
let outCap: i32 = 0;
let outLen: i32 = 0;

/** Makes room for `n` more bytes in the result buffer. */
export function reserve(n: i32): void {
  const want = outLen + n;
  if (want <= outCap) return;
  const c = grow(outCap, want);
  const p = heap.alloc(<usize>c);
  if (outPtr != 0) {
    memory.copy(p, outPtr, <usize>outLen);
    heap.free(outPtr);
  }
  outPtr = p;
  outCap = c;
}

/** Starts a result with a status byte (STATUS_OK, STATUS_REJECTED or STATUS_ERROR). */
export function begin(status: u8): void {
  outLen = 0;
  reserve(1);
  store<u8>(outPtr, status);
  outLen = 1;
}

/** Appends one byte to the result. */
@inline
export function writeByte(b: u8): void {
  if (outLen >= outCap) reserve(1);
  store<u8>(outPtr + <usize>outLen, b);
  outLen++;
}

/** Appends `n` bytes at `ptr` to the result. */
export function writeBytes(ptr: usize, n: i32): void {
  if (n <= 0) return;
  reserve(n);
  memory.copy(outPtr + <usize>outLen, ptr, <usize>n);
  outLen += n;
}

/** Appends the bytes of a buffer (e.g. one made with utf8() at init) to the result. */
export function writeBuffer(b: ArrayBuffer): void {
  writeBytes(changetype<usize>(b), b.byteLength);
}

/** Appends a string, UTF-8 encoded, verbatim (no JSON quoting). */
export function writeString(s: string): void {
  const len = s.length;
  let ascii = true;
  for (let i = 0; i < len; i++) {
    if (<u32>s.charCodeAt(i) >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) {
    reserve(len);
    for (let i = 0; i < len; i++) store<u8>(outPtr + <usize>(outLen + i), <u8>s.charCodeAt(i));
    outLen += len;
    return;
  }
  const n = String.UTF8.byteLength(s);
  reserve(n);
  outLen += <i32>String.UTF8.encodeUnsafe(changetype<usize>(s), len, outPtr + <usize>outLen);
}

/** Appends a signed decimal integer. */
export function writeI64(v: i64): void {
  reserve(21);
  if (v == 0) {
    writeByte(0x30);
    return;
  }
  // Work on the negative value so i64.MIN_VALUE does not overflow.
  let neg = v < 0;
  let x: i64 = neg ? v : -v;
  let tmp = outPtr + <usize>outLen + 20; // digits are written backwards past the end...
  let n = 0;
  while (x != 0) {
    const d = <u8>(-(x % 10));
    tmp--;
    store<u8>(tmp, 0x30 + d);
    x /= 10;
    n++;
  }
  if (neg) writeByte(0x2d);
  // ...then moved into place (the regions may overlap: memory.copy is a memmove).
  memory.copy(outPtr + <usize>outLen, tmp, <usize>n);
  outLen += n;
}

/** Appends `n` bytes at `ptr` (UTF-8) as a JSON string literal, quoted and escaped. */
export function writeJSONStringBytes(ptr: usize, n: i32): void {
  reserve(n + 2);
  writeByte(0x22);
  for (let i = 0; i < n; i++) {
    const c = load<u8>(ptr + <usize>i);
    if (c == 0x22 || c == 0x5c) {
      writeByte(0x5c);
      writeByte(c);
    } else if (c < 0x20) {
      writeEscapedControl(c);
    } else {
      writeByte(c);
    }
  }
  writeByte(0x22);
}

/** Appends a string as a JSON string literal, quoted and escaped (lone surrogates become U+FFFD). */
export function writeJSONString(s: string): void {
  const len = s.length;
  reserve(len + 2);
  writeByte(0x22);
  for (let i = 0; i < len; i++) {
    let c = <u32>s.charCodeAt(i);
    if (c < 0x80) {
      if (c == 0x22 || c == 0x5c) {
        writeByte(0x5c);
        writeByte(<u8>c);
      } else if (c < 0x20) {
        writeEscapedControl(<u8>c);
      } else {
        writeByte(<u8>c);
      }
      continue;
    }
    if (c >= 0xd800 && c < 0xdc00 && i + 1 < len) {
      const d = <u32>s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d < 0xe000) {
        c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
        i++;
      }
    }
    if (c >= 0xd800 && c < 0xe000) c = 0xfffd;
    writeUTF8(c);
  }
  writeByte(0x22);
}

const HEX = "0123456789abcdef";

function writeEscapedControl(c: u8): void {
  writeByte(0x5c);
  switch (c) {
    case 0x08: writeByte(0x62); return; // \b
    case 0x09: writeByte(0x74); return; // \t
    case 0x0a: writeByte(0x6e); return; // \n
    case 0x0c: writeByte(0x66); return; // \f
    case 0x0d: writeByte(0x72); return; // \r
  }
  writeByte(0x75); // \u00XX
  writeByte(0x30);
  writeByte(0x30);
  writeByte(<u8>HEX.charCodeAt(c >> 4));
  writeByte(<u8>HEX.charCodeAt(c & 15));
}

/** Appends one code point, UTF-8 encoded. */
export function writeUTF8(c: u32): void {
  if (c < 0x80) {
    writeByte(<u8>c);
  } else if (c < 0x800) {
    writeByte(<u8>(0xc0 | (c >> 6)));
    writeByte(<u8>(0x80 | (c & 0x3f)));
  } else if (c < 0x10000) {
    writeByte(<u8>(0xe0 | (c >> 12)));
    writeByte(<u8>(0x80 | ((c >> 6) & 0x3f)));
    writeByte(<u8>(0x80 | (c & 0x3f)));
  } else {
    writeByte(<u8>(0xf0 | (c >> 18)));
    writeByte(<u8>(0x80 | ((c >> 12) & 0x3f)));
    writeByte(<u8>(0x80 | ((c >> 6) & 0x3f)));
    writeByte(<u8>(0x80 | (c & 0x3f)));
  }
}

/** Appends a u32, little-endian (an engine handle). */
export function writeU32LE(v: u32): void {
  reserve(4);
  store<u32>(outPtr + <usize>outLen, v);
  outLen += 4;
}

/** Packs the current result for the host: pointer in the high 32 bits, length in the low 32. */
export function finish(): i64 {
  return <i64>((<u64>outPtr << 32) | <u64>(<u32>outLen));
}

/** A status-0 result carrying `n` bytes at `ptr`. */
export function okBytes(ptr: usize, n: i32): i64 {
  begin(STATUS_OK);
  writeBytes(ptr, n);
  return finish();
}

/** A status-0 result carrying a string (UTF-8, verbatim). */
export function ok(payload: string): i64 {
  begin(STATUS_OK);
  writeString(payload);
  return finish();
}

/** A status-0 result with an empty payload. */
export function okEmpty(): i64 {
  begin(STATUS_OK);
  return finish();
}

/** A status-1 result: the input is invalid. */
export function reject(msg: string): i64 {
  begin(STATUS_REJECTED);
  writeString(msg);
  return finish();
}

/**
 * A status-1 result whose message is the concatenation of up to three parts, written without
 * allocating (string concatenation allocates, which a stub-runtime module must avoid per call).
 */
export function rejectParts(a: string, b: string = "", c: string = ""): i64 {
  begin(STATUS_REJECTED);
  writeString(a);
  writeString(b);
  writeString(c);
  return finish();
}

/** A status-2 result: the guest failed cleanly. */
export function fail(msg: string): i64 {
  begin(STATUS_ERROR);
  writeString(msg);
  return finish();
}

// ---------------------------------------------------------------------------------------------
// Frames: an input holding several byte strings, each a little-endian u32 length then the bytes.

/**
 * Walks the frames of an input without allocating. Make one at module level and reset() it on
 * each call:
 *
 *   const frames = new Frames();
 *   frames.reset(input(len), len);
 *   while (frames.next()) { use(frames.ptr, frames.len); }
 *   if (frames.bad) return reject("malformed frame");
 */
export class Frames {
  /** The current frame, after next() returned true. */
  ptr: usize = 0;
  len: i32 = 0;
  /** Whether the input was cut short (next() returned false before the end). */
  bad: bool = false;
  private p: usize = 0;
  private end: usize = 0;

  reset(ptr: usize, len: i32): void {
    this.p = ptr;
    this.end = ptr + <usize>(len < 0 ? 0 : len);
    this.bad = ptr == 0 && len != 0;
    this.ptr = 0;
    this.len = 0;
  }

  /** Advances to the next frame; false at the end or on a malformed frame (then `bad`). */
  next(): bool {
    if (this.bad || this.p >= this.end) return false;
    if (this.end - this.p < 4) {
      this.bad = true;
      return false;
    }
    const n = load<u32>(this.p);
    const rest = this.end - this.p - 4;
    if (<usize>n > rest) {
      this.bad = true;
      return false;
    }
    this.ptr = this.p + 4;
    this.len = <i32>n;
    this.p += 4 + <usize>n;
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Manifest.

let manifestBuf: ArrayBuffer | null = null;

/**
 * Records the module's manifest (opstream_info). Call it from top-level code of the entry file.
 * `docType` is required for engines; `capabilities` may be empty.
 */
export function setManifest(role: string, name: string, version: string, docType: string = "", capabilities: string[] = []): void {
  // Render with the result writer, then keep a copy.
  begin(STATUS_OK);
  writeString('{"abi":1,"role":');
  writeJSONString(role);
  writeString(',"name":');
  writeJSONString(name);
  writeString(',"version":');
  writeJSONString(version);
  if (docType.length > 0) {
    writeString(',"docType":');
    writeJSONString(docType);
  }
  if (capabilities.length > 0) {
    writeString(',"capabilities":[');
    for (let i = 0; i < capabilities.length; i++) {
      if (i > 0) writeByte(0x2c);
      writeJSONString(capabilities[i]);
    }
    writeByte(0x5d);
  }
  writeByte(0x7d);
  const b = new ArrayBuffer(outLen - 1);
  memory.copy(changetype<usize>(b), outPtr + 1, <usize>(outLen - 1));
  manifestBuf = b;
}

/** opstream_info. */
export function opstreamInfo(): i64 {
  const m = manifestBuf;
  if (m === null) return fail("module set no manifest: call setManifest from top-level code");
  return okBytes(changetype<usize>(m), m.byteLength);
}

/** Copies a string into a new buffer, UTF-8 encoded (for data prepared at init). */
export function utf8(s: string): ArrayBuffer {
  return String.UTF8.encode(s);
}

/** Compares `n` bytes at `ptr` with a buffer. */
export function bytesEqual(ptr: usize, n: i32, b: ArrayBuffer): bool {
  if (n != b.byteLength) return false;
  return memory.compare(ptr, changetype<usize>(b), <usize>n) == 0;
}
