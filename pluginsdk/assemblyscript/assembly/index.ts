// @opstream/pluginsdk: the OpStream WASM ABI v1 for AssemblyScript guests (docs/plugins.md).
//
// - abi.ts: input buffer, result writer and status packing, frames, manifest.
// - json.ts: an allocation-free JSON reader.
// - exports.ts: opstream_abi_version, opstream_info, opstream_buffer (re-export from your entry).
export * from "./abi";
export * from "./json";
