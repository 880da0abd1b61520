/**
 * CodeMirror 6 binding: local edits become text ops, remote ops become editor changes, peers'
 * cursors (from awareness) are drawn in the editor, Mod-z / Mod-y undo and redo through the
 * document's undo stack (only this client's changes). Add the returned extension to the editor
 * (whose initial doc must be doc.snapshot) and do not add CodeMirror's own history().
 */
import { Annotation, EditorSelection, EditorState, Prec, StateEffect, StateField, type Extension, type Text } from '@codemirror/state';
import { Decoration, EditorView, ViewPlugin, WidgetType, keymap, type DecorationSet, type ViewUpdate } from '@codemirror/view';
import { type as textType } from 'ot-text-unicode';
import type { Doc, Change, ReloadEvent } from '../doc.js';
import { fromUni, toUni } from '../unicode.js';

type TextOp = Array<number | string | { d: number | string }>;

/** User is how this client appears to others. */
export interface User {
  name: string;
  color: string;
}

/** CodeMirrorOptions configure the binding. */
export interface CodeMirrorOptions {
  /** user is published in awareness with the cursor. */
  user?: User;
  /** onRefused is called when a local edit is refused (the document is read-only). */
  onRefused?: () => void;
}

const remote = Annotation.define<boolean>();
const setCursors = StateEffect.define<DecorationSet>();

/** CursorState is what the binding publishes in awareness (positions in code points). */
export interface CursorState {
  user?: User;
  cursor?: { anchor: number; head: number } | null;
}

class CaretWidget extends WidgetType {
  constructor(
    readonly name: string,
    readonly color: string,
  ) {
    super();
  }
  eq(o: CaretWidget) {
    return o.name === this.name && o.color === this.color;
  }
  toDOM() {
    const el = document.createElement('span');
    el.className = 'opstream-cm-caret';
    el.style.cssText = `position:relative;border-left:2px solid ${this.color};margin-left:-1px;margin-right:-1px;`;
    const label = document.createElement('span');
    label.className = 'opstream-cm-caret-name';
    label.textContent = this.name;
    label.style.cssText = `position:absolute;left:-2px;top:-1.3em;font-size:11px;line-height:1.2;padding:0 3px;white-space:nowrap;color:#fff;background:${this.color};border-radius:3px 3px 3px 0;pointer-events:none;`;
    el.appendChild(label);
    return el;
  }
  ignoreEvent() {
    return true;
  }
}

const cursorField = StateField.define<DecorationSet>({
  create: () => Decoration.none,
  update(deco, tr) {
    deco = deco.map(tr.changes);
    for (const e of tr.effects) if (e.is(setCursors)) deco = e.value;
    return deco;
  },
  provide: (f) => EditorView.decorations.from(f),
});

/** changesToOp turns a CodeMirror change set (against startDoc) into a text op. */
export function changesToOp(startDoc: Text, changes: { iterChanges: (f: (fromA: number, toA: number, fromB: number, toB: number, inserted: Text) => void) => void }): TextOp {
  const op: TextOp = [];
  let last = 0;
  changes.iterChanges((fromA, toA, _fromB, _toB, inserted) => {
    const skip = toUni(startDoc.sliceString(last, fromA), fromA - last);
    if (skip) op.push(skip);
    if (toA > fromA) {
      const del = startDoc.sliceString(fromA, toA);
      op.push({ d: toUni(del, del.length) });
    }
    const ins = inserted.toString();
    if (ins) op.push(ins);
    last = toA;
  });
  return textType.normalize(op as never) as TextOp;
}

/** opToChanges turns a text op into CodeMirror changes against text. */
export function opToChanges(text: string, op: TextOp): Array<{ from: number; to?: number; insert?: string }> {
  const out: Array<{ from: number; to?: number; insert?: string }> = [];
  let pos = 0;
  const advance = (n: number) => pos + fromUni(text.slice(pos), n);
  for (const c of op) {
    if (typeof c === 'number') pos = advance(c);
    else if (typeof c === 'string') out.push({ from: pos, insert: c });
    else {
      const n = typeof c.d === 'number' ? c.d : toUni(c.d, c.d.length);
      const end = advance(n);
      out.push({ from: pos, to: end });
      pos = end;
    }
  }
  return out;
}

/** codemirrorBinding returns the extension that binds an editor to a "text" document. */
export function codemirrorBinding(doc: Doc<string, TextOp>, options: CodeMirrorOptions = {}): Extension {
  const plugin = ViewPlugin.fromClass(
    class {
      private offs: Array<() => void> = [];
      private peerCursors = new Map<string, { anchor: number; head: number }>();
      constructor(readonly view: EditorView) {
        this.offs.push(
          doc.on('change', (c: Change<TextOp>) => this.onChange(c)),
          doc.on('reload', (e: ReloadEvent) => this.onReload(e)),
          doc.awareness.on('change', () => this.onAwareness()),
        );
        queueMicrotask(() => {
          this.onAwareness();
          this.publish();
        });
      }
      update(u: ViewUpdate) {
        for (const tr of u.transactions) {
          if (!tr.docChanged || tr.annotation(remote)) continue;
          try {
            doc.submit(changesToOp(tr.startState.doc, tr.changes), this);
          } catch {
            // Not loaded (a reload is under way: its event resets the editor) or read-only.
            options.onRefused?.();
          }
        }
        if (u.selectionSet || u.focusChanged || (u.docChanged && u.view.hasFocus)) this.publish();
      }
      publish() {
        if (doc.access !== 'write' && !options.user) return;
        const sel = this.view.state.selection.main;
        const text = this.view.state.doc.toString();
        const cursor = this.view.hasFocus ? { anchor: toUni(text, sel.anchor), head: toUni(text, sel.head) } : null;
        doc.awareness.set({ ...((doc.awareness.local as object) ?? {}), user: options.user, cursor } satisfies CursorState);
      }
      onChange(c: Change<TextOp>) {
        if (c.origin === this) return;
        const text = this.view.state.doc.toString();
        const changes = opToChanges(text, c.op);
        for (const [peer, cur] of this.peerCursors) {
          this.peerCursors.set(peer, { anchor: textType.transformPosition(cur.anchor, c.op as never), head: textType.transformPosition(cur.head, c.op as never) });
        }
        this.view.dispatch({ changes, annotations: [remote.of(true)], userEvent: c.local ? 'undo' : undefined });
        if (c.local) this.publish();
      }
      onReload(_e: ReloadEvent) {
        this.view.dispatch({
          changes: { from: 0, to: this.view.state.doc.length, insert: doc.snapshot },
          annotations: [remote.of(true)],
          selection: EditorSelection.cursor(0),
        });
      }
      onAwareness() {
        this.peerCursors.clear();
        for (const [peer, st] of doc.awareness.peers) {
          const s = st as CursorState;
          if (s?.cursor) this.peerCursors.set(peer, s.cursor);
        }
        this.draw();
      }
      draw() {
        const text = this.view.state.doc.toString();
        const len = this.view.state.doc.length;
        const ranges = [];
        for (const [peer, cur] of this.peerCursors) {
          const s = doc.awareness.peers.get(peer) as CursorState;
          const color = s?.user?.color ?? '#888';
          const name = s?.user?.name ?? peer;
          const head = Math.min(len, fromUni(text, cur.head));
          const anchor = Math.min(len, fromUni(text, cur.anchor));
          if (anchor !== head) {
            ranges.push(Decoration.mark({ attributes: { style: `background:${color}33` }, class: 'opstream-cm-selection' }).range(Math.min(anchor, head), Math.max(anchor, head)));
          }
          ranges.push(Decoration.widget({ widget: new CaretWidget(name, color), side: 1 }).range(head));
        }
        const deco = Decoration.set(ranges, true);
        queueMicrotask(() => this.view.dispatch({ effects: setCursors.of(deco) }));
      }
      destroy() {
        for (const off of this.offs) off();
      }
    },
  );
  return [
    cursorField,
    plugin,
    // A read-only document refuses local edits (remote ones carry the remote annotation).
    refuseWhenReadOnly(doc, options),
    Prec.high(
      keymap.of([
        { key: 'Mod-z', run: () => (doc.access === 'write' ? doc.undo() : false), preventDefault: true },
        { key: 'Mod-y', run: () => (doc.access === 'write' ? doc.redo() : false), preventDefault: true },
        { key: 'Mod-Shift-z', run: () => (doc.access === 'write' ? doc.redo() : false), preventDefault: true },
      ]),
    ),
  ];
}

function refuseWhenReadOnly(doc: Doc, options: CodeMirrorOptions): Extension {
  return EditorState.transactionFilter.of((tr) => {
    if (!tr.docChanged || tr.annotation(remote) || doc.access === 'write') return tr;
    options.onRefused?.();
    return [];
  });
}
