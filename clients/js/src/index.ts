/**
 * @opstream/client: the browser and Node client for OpStream's protocol v1.
 *
 *   const conn = connect('https://collab.example.com', { token });
 *   const doc = await conn.openDocument('notes-1', 'text');
 *   doc.on('change', ({ op, local }) => ...);
 *   doc.submit([5, 'hello']);
 */
export { connect, Connection, ProtocolError } from './connection.js';
export type { ConnectOptions, ConnectionState, WebSocketLike } from './connection.js';
export { Doc, Awareness, CREATE_CLIENT_ID } from './doc.js';
export type { DocOptions, Change, ReloadEvent, AwarenessChange } from './doc.js';
export { registerType, getType, Delta } from './types.js';
export type { OTType } from './types.js';
export { toUni, fromUni } from './unicode.js';
export { Clock, clockFor, FormState, JSONState, TreeState, TableState, ROOT } from './crdt/index.js';
export type { Stamp, FormOp, JSONOp, TreeOp, TreeNode, TableOp } from './crdt/index.js';
