/**
 * Quill 2 binding: user edits become rich-text ops, remote ops become editor changes, peers'
 * cursors (from awareness) are drawn over the editor, and Quill's undo/redo keys go through the
 * document's undo stack (only this client's changes).
 */
import type { Doc, Change, ReloadEvent } from '../doc.js';
import { Delta } from '../types.js';

type D = InstanceType<typeof Delta>;

/** QuillLike is the part of Quill's API the binding uses. */
export interface QuillLike {
  root: HTMLElement;
  container: HTMLElement;
  on(event: string, fn: (...args: any[]) => void): unknown;
  off(event: string, fn: (...args: any[]) => void): unknown;
  setContents(delta: unknown, source?: string): unknown;
  updateContents(delta: unknown, source?: string): unknown;
  getSelection(focus?: boolean): { index: number; length: number } | null;
  getBounds(index: number, length?: number): { left: number; top: number; height: number; width: number } | null;
  getLength(): number;
  enable(enabled?: boolean): void;
  hasFocus(): boolean;
  getModule(name: string): any;
}

/** QuillOptions configure the binding. */
export interface QuillOptions {
  /** user is published in awareness with the cursor. */
  user?: { name: string; color: string };
  /** onRefused is called when a local edit is refused (the document is read-only). */
  onRefused?: () => void;
}

/** QuillCursorState is what the binding publishes in awareness. */
export interface QuillCursorState {
  user?: { name: string; color: string };
  range?: { index: number; length: number } | null;
}

/** QuillBinding keeps a Quill editor and a "rich-text" document in step. */
export interface QuillBinding {
  destroy(): void;
}

/** bindQuill binds quill to doc: the editor's content is replaced by the document's. */
export function bindQuill(quill: QuillLike, doc: Doc<D, D>, options: QuillOptions = {}): QuillBinding {
  const self = {};
  quill.setContents(doc.snapshot, 'silent');
  // Quill always ends with a newline; give an empty document one so both agree (create():
  // windows opening a new document at once add one newline, not one each).
  if (doc.snapshot.length() === 0 && doc.access === 'write') doc.create(new Delta().insert('\n'), self);
  quill.enable(doc.access === 'write');

  const overlay = document.createElement('div');
  overlay.className = 'opstream-quill-cursors';
  overlay.style.cssText = 'position:absolute;inset:0;pointer-events:none;overflow:visible;';
  if (getComputedStyle(quill.container).position === 'static') quill.container.style.position = 'relative';
  quill.container.appendChild(overlay);

  const ranges = new Map<string, { index: number; length: number }>();

  const publish = () => {
    if (doc.access !== 'write') return;
    const range = quill.hasFocus() ? quill.getSelection() : null;
    doc.awareness.set({ ...((doc.awareness.local as object) ?? {}), user: options.user, range } satisfies QuillCursorState);
  };

  const draw = () => {
    overlay.textContent = '';
    for (const [peer, r] of ranges) {
      const s = doc.awareness.peers.get(peer) as QuillCursorState;
      const color = s?.user?.color ?? '#888';
      const name = s?.user?.name ?? peer;
      const max = quill.getLength() - 1;
      const index = Math.max(0, Math.min(r.index, max));
      const length = Math.max(0, Math.min(r.length, max - index));
      if (length > 0) {
        const b = quill.getBounds(index, length);
        if (b) overlay.appendChild(box(b.left, b.top, b.width, b.height, `${color}33`, 'opstream-quill-selection'));
      }
      const c = quill.getBounds(index + length, 0);
      if (!c) continue;
      const caret = box(c.left - 1, c.top, 2, c.height, color, 'opstream-quill-caret');
      const label = document.createElement('span');
      label.className = 'opstream-quill-caret-name';
      label.textContent = name;
      label.style.cssText = `position:absolute;left:0;top:-1.3em;font-size:11px;line-height:1.2;padding:0 3px;white-space:nowrap;color:#fff;background:${color};border-radius:3px 3px 3px 0;font-family:sans-serif;`;
      caret.appendChild(label);
      overlay.appendChild(caret);
    }
  };

  const onAwareness = () => {
    ranges.clear();
    for (const [peer, st] of doc.awareness.peers) {
      const s = st as QuillCursorState;
      if (s?.range) ranges.set(peer, s.range);
    }
    draw();
  };

  const onTextChange = (delta: unknown, _old: unknown, source: string) => {
    if (source !== 'user') return;
    if (doc.access !== 'write') {
      quill.setContents(doc.snapshot, 'silent');
      options.onRefused?.();
      return;
    }
    try {
      doc.submit(new Delta(delta as any), self);
    } catch {
      // Not loaded (a reload is under way: its event resets the editor).
      options.onRefused?.();
    }
  };
  const onEditorChange = (event: string, ...args: unknown[]) => {
    if (event === 'selection-change' && args[2] === 'silent') return;
    publish();
  };

  const offs = [
    doc.on('change', (c: Change<D>) => {
      if (c.origin === self) return;
      for (const [peer, r] of ranges) {
        const start = c.op.transformPosition(r.index);
        const end = c.op.transformPosition(r.index + r.length);
        ranges.set(peer, { index: start, length: end - start });
      }
      quill.updateContents(c.op, 'api');
      draw();
    }),
    doc.on('reload', (_e: ReloadEvent) => {
      quill.setContents(doc.snapshot, 'silent');
      draw();
    }),
    doc.on('joined', ({ access }) => quill.enable(access === 'write')),
    doc.awareness.on('change', onAwareness),
  ];
  quill.on('text-change', onTextChange);
  quill.on('editor-change', onEditorChange);

  // Undo and redo (keys and beforeinput) go through the document's undo stack.
  const history = quill.getModule('history');
  if (history) {
    history.change = (source: string) => {
      if (doc.access !== 'write') return;
      if (source === 'undo') doc.undo();
      else doc.redo();
    };
  }
  onAwareness();

  return {
    destroy() {
      for (const off of offs) off();
      quill.off('text-change', onTextChange);
      quill.off('editor-change', onEditorChange);
      overlay.remove();
    },
  };
}

function box(left: number, top: number, width: number, height: number, bg: string, cls: string): HTMLElement {
  const el = document.createElement('div');
  el.className = cls;
  el.style.cssText = `position:absolute;left:${left}px;top:${top}px;width:${width}px;height:${height}px;background:${bg};`;
  return el;
}
