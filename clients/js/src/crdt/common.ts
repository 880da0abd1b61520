// Shared pieces of the CRDT types: stamps, Go's byte order of strings, and JSON written the way
// the server's Go engines write it.

/** Stamp orders CRDT ops: by ts, then peer (bytewise, as UTF-8). */
export interface Stamp {
  ts: number;
  peer: string;
}

/** cmpStr compares strings in the byte order of their UTF-8 encodings (= code point order), as
 * Go compares strings. JavaScript's < compares UTF-16 code units, which differs above U+FFFF. */
export function cmpStr(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    // Surrogates (U+D800-DFFF, code points above U+FFFF) sort after U+E000-FFFF in UTF-8.
    if (x >= 0xd800 && y >= 0xd800) {
      x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
      y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    }
    return x < y ? -1 : 1;
  }
  return a.length - b.length < 0 ? -1 : a.length === b.length ? 0 : 1;
}

/** cmpStamp compares (ts, peer). */
export function cmpStamp(ats: number, apeer: string, bts: number, bpeer: string): number {
  if (ats !== bts) return ats < bts ? -1 : 1;
  return cmpStr(apeer, bpeer);
}

/** sortStr sorts strings bytewise (Go's order). */
export const sortStr = (a: string[]): string[] => a.sort(cmpStr);

const HTML = /[<>&\u2028\u2029]/g;
const HTML_ESC: Record<string, string> = { '<': '\\u003c', '>': '\\u003e', '&': '\\u0026', '\u2028': '\\u2028', '\u2029': '\\u2029' };

/** htmlEscape does what Go's json.Marshal does to JSON text: <, >, &, U+2028 and U+2029 in
 * strings become \u escapes (they can only occur inside strings). */
export const htmlEscape = (s: string): string => s.replace(HTML, (c) => HTML_ESC[c]);

/** compact is a value's compact JSON as the client writes it (JSON.stringify). Values made by
 * JavaScript round-trip through the server unchanged; see the README for the limits. */
export function compact(v: unknown): string {
  const s = JSON.stringify(v);
  if (s === undefined) throw new Error('opstream: value is not JSON');
  return s;
}

/** goJSON is v as Go's json.Marshal writes it (HTML-escaped). */
export const goJSON = (v: unknown): string => htmlEscape(compact(v));

/** goSorted writes v as Go's json.Marshal writes a decoded value: object keys sorted bytewise,
 * HTML-escaped. Objects may be Maps (the json type's materialized value) or plain objects. */
export function goSorted(v: unknown): string {
  if (v instanceof Map) {
    const keys = sortStr([...v.keys()]);
    return '{' + keys.map((k) => goJSON(k) + ':' + goSorted(v.get(k))).join(',') + '}';
  }
  if (Array.isArray(v)) return '[' + v.map(goSorted).join(',') + ']';
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = sortStr(Object.keys(o));
    return '{' + keys.map((k) => goJSON(k) + ':' + goSorted(o[k])).join(',') + '}';
  }
  return goJSON(v);
}

/** str is a JSON string as written by the engines for plain names (ids, keys, peers of tree
 * and table): as is, between quotes. */
export const str = (s: string): string => JSON.stringify(s);

/** fail throws the error a malformed op gets. */
export function fail(msg: string): never {
  throw new Error(`opstream: invalid op: ${msg}`);
}

/** checkStamp validates ts and peer of an op. */
export function checkStamp(op: any): void {
  if (op === null || typeof op !== 'object' || Array.isArray(op)) fail('not an object');
  if (!Number.isSafeInteger(op.ts) || op.ts < 0) fail('ts must be a non-negative integer');
  if (typeof op.peer !== 'string' || op.peer === '' || utf8Len(op.peer) > 128) fail('peer must be a string of 1..128 bytes');
}

/** checkKeys refuses keys not in allowed. */
export function checkKeys(op: Record<string, unknown>, allowed: string[]): void {
  for (const k of Object.keys(op)) if (!allowed.includes(k)) fail(`unknown key "${k}"`);
}

/** plain checks an id, key or peer of the tree and table types. */
export function plain(v: unknown, what: string, max = 64): string {
  if (typeof v !== 'string' || v === '') fail(`${what} must be a non-empty string`);
  if (/[\u0000-\u001f"\\]/.test(v)) fail(`${what} holds a control character, quote or backslash`);
  if (utf8Len(v) > max) fail(`${what} longer than ${max} bytes`);
  return v;
}

/** utf8Len is the length of s in UTF-8 bytes. */
export function utf8Len(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // 2 bytes below U+0800, 3 above, 4 for a surrogate pair (2 units)
    if (c >= 0x80) n += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return n;
}
