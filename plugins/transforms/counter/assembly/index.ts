// counter: an example OpStream document engine in AssemblyScript.
//
// docType "counter". A snapshot is a JSON integer (the empty document is 0); an op is
// {"add": N} with N an integer, possibly negative. Additions commute, so transform is the
// identity; compose sums. Live documents are slots in a table indexed by handle. Per call
// nothing is allocated (the table only grows when more documents are open than ever before).

import {
  setManifest, input, reject, rejectParts, fail, Frames, JSONReader,
  begin, writeString, writeI64, writeU32LE, finish, STATUS_OK,
} from "../../../../pluginsdk/assemblyscript/assembly/index";

export * from "../../../../pluginsdk/assemblyscript/assembly/exports";

setManifest("engine", "counter", "1.0.0", "counter", ["compose"]);

const r = new JSONReader();
const frames = new Frames();

// Live documents: values[h] and live[h] for handle h; free lists the closed handles to reuse.
const values: i64[] = [];
const live: bool[] = [];
const free: i32[] = [];

let opValue: i64 = 0; // the value parsed by parseOp
// Why parseOp or readOpOverConcurrent failed, in parts (concatenating would allocate).
let errWhere: string = "";
let errWhat: string = "";

/** Parses {"add": N} at p into opValue; false (and errWhere, errWhat) when it is not one. */
function parseOp(p: usize, n: i32): bool {
  r.reset(p, n);
  let seen = false;
  if (!r.beginObject()) return bad("op: ", r.error);
  while (r.nextKey()) {
    if (!r.keyIs("add")) return bad("op: ", 'unknown key (an op is {"add": N})');
    if (seen) return bad("op: ", 'duplicate key "add"');
    if (!r.readInt()) return bad("op: add: ", r.error);
    opValue = r.intValue;
    seen = true;
  }
  if (r.failed || !r.end()) return bad("op: ", r.error);
  if (!seen) return bad("op: ", 'missing "add"');
  return true;
}

function bad(where: string, what: string): bool {
  errWhere = where;
  errWhat = what;
  return false;
}

function rejectErr(): i64 {
  return rejectParts(errWhere, errWhat);
}

function okOp(v: i64): i64 {
  begin(STATUS_OK);
  writeString('{"add":');
  writeI64(v);
  writeString("}");
  return finish();
}

function okInt(v: i64): i64 {
  begin(STATUS_OK);
  writeI64(v);
  return finish();
}

/** a+b, or false when it overflows an i64. */
let sum: i64 = 0;
function add(a: i64, b: i64): bool {
  const s = a + b;
  // Overflow iff a and b have the same sign and s's sign differs.
  if (((a ^ s) & (b ^ s)) < 0) return false;
  sum = s;
  return true;
}

function validHandle(h: i32): bool {
  return h >= 0 && h < values.length && unchecked(live[h]);
}

export function engine_empty(): i64 {
  return okInt(0);
}

export function engine_open(len: i32): i64 {
  const p = input(len);
  if (p == 0 && len != 0) return fail("bad input length");
  r.reset(p, len);
  if (!r.readInt() || !r.end()) return rejectParts("snapshot: ", r.error, " (a counter snapshot is a JSON integer)");
  let h: i32;
  if (free.length > 0) {
    h = free.pop();
    values[h] = r.intValue;
    live[h] = true;
  } else {
    h = values.length;
    values.push(r.intValue);
    live.push(true);
  }
  begin(STATUS_OK);
  writeU32LE(<u32>h);
  return finish();
}

export function engine_close(handle: i32): void {
  if (!validHandle(handle)) return;
  live[handle] = false;
  free.push(handle);
}

export function engine_snapshot(handle: i32): i64 {
  if (!validHandle(handle)) return fail("unknown document handle");
  return okInt(unchecked(values[handle]));
}

/** Validates every frame (op, c1..ck) and returns the op's value, or rejects. */
function readOpOverConcurrent(len: i32): bool {
  const p = input(len);
  if (p == 0 && len != 0) return bad("input: ", "bad length");
  frames.reset(p, len);
  if (!frames.next()) return bad("input: ", frames.bad ? "malformed frame" : "missing op frame");
  if (!parseOp(frames.ptr, frames.len)) return false;
  const v = opValue;
  // Transform is the identity, but concurrent ops must still be well formed.
  while (frames.next()) {
    if (!parseOp(frames.ptr, frames.len)) return bad(errWhere == "op: " ? "concurrent op: " : "concurrent op: add: ", errWhat);
  }
  if (frames.bad) return bad("input: ", "malformed frame");
  opValue = v;
  return true;
}

export function engine_apply(handle: i32, side: i32, len: i32): i64 {
  if (!validHandle(handle)) return fail("unknown document handle");
  if (side != 0 && side != 1) return reject("side must be 0 or 1");
  if (!readOpOverConcurrent(len)) return rejectErr();
  if (!add(unchecked(values[handle]), opValue)) return reject("op: the counter would overflow");
  unchecked((values[handle] = sum));
  return okOp(opValue);
}

export function engine_transform(side: i32, len: i32): i64 {
  if (side != 0 && side != 1) return reject("side must be 0 or 1");
  if (!readOpOverConcurrent(len)) return rejectErr();
  return okOp(opValue);
}

export function engine_validate(len: i32): i64 {
  const p = input(len);
  if (p == 0 && len != 0) return fail("bad input length");
  if (!parseOp(p, len)) return rejectErr();
  begin(STATUS_OK);
  return finish();
}

export function engine_compose(len: i32): i64 {
  const p = input(len);
  if (p == 0 && len != 0) return fail("bad input length");
  frames.reset(p, len);
  if (!frames.next()) return reject(frames.bad ? "input: malformed frame" : "input: compose takes two ops");
  if (!parseOp(frames.ptr, frames.len)) return rejectErr();
  const a = opValue;
  if (!frames.next()) return reject(frames.bad ? "input: malformed frame" : "input: compose takes two ops");
  if (!parseOp(frames.ptr, frames.len)) return rejectParts("second ", errWhere, errWhat);
  if (frames.next() || frames.bad) return reject("input: compose takes exactly two ops");
  if (!add(a, opValue)) return reject("compose: the sum overflows");
  return okOp(sum);
}
