// tokens: an OpStream authorizer in AssemblyScript. Static bearer tokens from the config, each
// granting read or write access as a subject in a tenant; anything else is denied.
//
// Config: {"tokens": {"<token>": {"access": "read"|"write", "tenant": "...", "subject": "..."}}}
//
// Per call it allocates nothing: the request is scanned in place, the token looked up in an
// open-addressing hash table built at init, and a decision rendered at init is copied out.

import {
  setManifest, input, okBytes, reject, fail, bytesEqual, JSONReader,
  begin, writeString, writeJSONString, finish, STATUS_OK,
} from "../../../../pluginsdk/assemblyscript/assembly/index";

export * from "../../../../pluginsdk/assemblyscript/assembly/exports";

setManifest("authorizer", "tokens", "1.0.0");

const r = new JSONReader();

// Tokens and their pre-rendered decisions, by index; slots maps hash buckets to index+1.
let tokens: ArrayBuffer[] = [];
let hashes: u32[] = [];
let decisions: ArrayBuffer[] = [];
let slots = new StaticArray<i32>(1);
let mask: u32 = 0;

let noToken = String.UTF8.encode('{"access":"none","reason":"no token"}');
let unknownToken = String.UTF8.encode('{"access":"none","reason":"unknown token"}');

function fnv1a(p: usize, n: i32): u32 {
  let h: u32 = 2166136261;
  for (let i = 0; i < n; i++) {
    h ^= <u32>load<u8>(p + <usize>i);
    h *= 16777619;
  }
  return h;
}

/** Index of the token at p (n bytes), or -1. */
function lookup(p: usize, n: i32): i32 {
  const h = fnv1a(p, n);
  let i = h & mask;
  while (true) {
    const s = unchecked(slots[i]);
    if (s == 0) return -1;
    const k = s - 1;
    if (unchecked(hashes[k]) == h && bytesEqual(p, n, unchecked(tokens[k]))) return k;
    i = (i + 1) & mask;
  }
}

function render(access: string, tenant: string, subject: string): ArrayBuffer {
  begin(STATUS_OK);
  writeString('{"access":');
  writeJSONString(access);
  if (tenant.length > 0) {
    writeString(',"tenant":');
    writeJSONString(tenant);
  }
  if (subject.length > 0) {
    writeString(',"subject":');
    writeJSONString(subject);
  }
  writeString(',"reason":');
  writeJSONString("token grants " + access);
  writeString("}");
  const packed = finish();
  const ptr = <usize>(<u64>packed >>> 32);
  const len = <i32>(<u32>packed);
  const b = new ArrayBuffer(len - 1);
  memory.copy(changetype<usize>(b), ptr + 1, <usize>(len - 1));
  return b;
}

/** Parses the config; returns "" or why it is refused. */
function parseConfig(p: usize, n: i32): string {
  tokens = [];
  hashes = [];
  decisions = [];
  r.reset(p, n);
  if (!r.beginObject()) return "config: " + r.error;
  while (r.nextKey()) {
    if (!r.keyIs("tokens")) return "config: unknown key " + quote(r.stringValue());
    if (r.peek() != 0x7b) return "config: tokens must be an object";
    r.beginObject();
    while (r.nextKey()) {
      const token = r.bytesValue();
      const name = r.stringValue();
      if (token.byteLength == 0) return "config: empty token";
      const h = fnv1a(changetype<usize>(token), token.byteLength);
      for (let i = 0; i < tokens.length; i++) {
        if (hashes[i] == h && bytesEqual(changetype<usize>(token), token.byteLength, tokens[i])) {
          return "config: duplicate token " + quote(name);
        }
      }
      if (r.peek() != 0x7b) return "config: token " + quote(name) + " must be an object";
      r.beginObject();
      let access = "";
      let tenant = "";
      let subject = "";
      while (r.nextKey()) {
        let field = r.stringValue();
        if (field != "access" && field != "tenant" && field != "subject") {
          return "config: token " + quote(name) + ": unknown key " + quote(field);
        }
        if (r.peek() != 0x22) return "config: token " + quote(name) + ": " + field + " must be a string";
        if (!r.readString()) return "config: " + r.error;
        const v = r.stringValue();
        if (field == "access") access = v;
        else if (field == "tenant") tenant = v;
        else subject = v;
      }
      if (r.failed) return "config: " + r.error;
      if (access != "read" && access != "write") {
        return "config: token " + quote(name) + ": access must be \"read\" or \"write\", not " + quote(access);
      }
      tokens.push(token);
      hashes.push(h);
      decisions.push(render(access, tenant, subject));
    }
    if (r.failed) return "config: " + r.error;
  }
  if (!r.end()) return "config: " + r.error;

  let cap = 8;
  while (cap < tokens.length * 2) cap <<= 1;
  slots = new StaticArray<i32>(cap);
  mask = <u32>(cap - 1);
  for (let k = 0; k < tokens.length; k++) {
    let i = hashes[k] & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = k + 1;
  }
  return "";
}

/** Quotes a string for a message, shortened so a secret token is not logged whole. */
function quote(s: string): string {
  if (s.length > 12) s = s.substring(0, 4) + "...";
  return '"' + s + '"';
}

export function authorizer_init(len: i32): i64 {
  const p = input(len);
  if (p == 0 && len != 0) return fail("bad input length");
  const msg = parseConfig(p, len);
  if (msg.length > 0) return reject(msg);
  return okBytes(0, 0);
}

export function authorize(len: i32): i64 {
  const p = input(len);
  if (p == 0 && len != 0) return fail("bad input length");
  r.reset(p, len);
  if (!r.beginObject()) return reject(r.error);
  // found: 0 no token, -1 unknown token, k+1 token k. The token is looked up as soon as it is
  // read: an escaped token lives in the reader's scratch buffer, which a later string reuses.
  let found: i32 = 0;
  while (r.nextKey()) {
    if (r.keyIs("token")) {
      if (r.readNull()) {
        found = 0;
        continue;
      }
      if (r.peek() != 0x22) return reject("request: token must be a string");
      if (!r.readString()) return reject(r.error);
      found = r.strLen == 0 ? 0 : lookup(r.strPtr, r.strLen) + 1;
      if (found == 0 && r.strLen > 0) found = -1;
    } else if (!r.skipValue()) {
      return reject(r.error);
    }
  }
  if (r.failed || !r.end()) return reject(r.error);
  let d: ArrayBuffer;
  if (found == 0) d = noToken;
  else if (found < 0) d = unknownToken;
  else d = unchecked(decisions[found - 1]);
  return okBytes(changetype<usize>(d), d.byteLength);
}
