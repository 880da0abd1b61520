// The exports every OpStream module needs. Re-export them from your module's entry file:
//
//   export * from "<path to>/pluginsdk/assemblyscript/assembly/exports";
//
// (AssemblyScript only turns the entry file's exports into WASM exports.)

import { ABI_VERSION, opstreamBuffer, opstreamInfo } from "./abi";

/** opstream_abi_version: () -> i32. */
export function opstream_abi_version(): i32 {
  return ABI_VERSION;
}

/** opstream_info: () -> i64, the manifest. */
export function opstream_info(): i64 {
  return opstreamInfo();
}

/** opstream_buffer: (size i32) -> i32, the input buffer. */
export function opstream_buffer(size: i32): i32 {
  return opstreamBuffer(size);
}
