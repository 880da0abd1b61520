// The demo page served by `opstream serve --demo`: one plain-text document (CodeMirror 6) and
// one rich-text document (Quill), with peers' cursors and names from awareness, the connection
// state and each document's revision.
import { EditorState } from '@codemirror/state';
import { EditorView, drawSelection, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { defaultKeymap } from '@codemirror/commands';
import Quill from 'quill';
import 'quill/dist/quill.snow.css';
import './style.css';
import { connect, type Doc } from '../src/index.js';
import { codemirrorBinding } from '../src/bindings/codemirror.js';
import { bindQuill } from '../src/bindings/quill.js';

const params = new URLSearchParams(location.search);
const docId = params.get('doc') || 'demo';
const token = params.get('token') || undefined;
const colors = ['#e6194b', '#3cb44b', '#4363d8', '#f58231', '#911eb4', '#008080', '#9a6324', '#800000'];
const user = {
  name: params.get('name') || `Guest ${Math.floor(Math.random() * 900 + 100)}`,
  color: params.get('color') || colors[Math.floor(Math.random() * colors.length)],
};

const $ = (id: string) => document.getElementById(id)!;
const message = (text: string) => {
  const el = $('message');
  el.textContent = text;
  el.hidden = false;
};
$('me').innerHTML = `<span class="peer"><i style="background:${user.color}"></i></span>`;
$('me').append(user.name);

const conn = connect(location.origin, { token });
const showState = (s: string) => {
  $('state').textContent = s;
  $('state').dataset.state = s;
};
showState(conn.state);
conn.on('state', showState);
conn.on('error', (e) => message(e.message));

function track(doc: Doc, prefix: string) {
  const show = () => {
    $(`${prefix}-rev`).textContent = String(doc.revision);
    $(`${prefix}-sync`).textContent = doc.hasPending ? 'saving…' : 'synced';
  };
  for (const ev of ['change', 'ack', 'joined', 'synced', 'reload'] as const) doc.on(ev, show);
  doc.on('error', (e) => message(e.code === 'Forbidden' ? 'Edit refused: this token is read-only.' : e.message));
  doc.on('reload', (e) => message(e.reason === 'rejected' ? `The server refused an edit (${e.error?.code}); reloaded its copy.` : "Reloaded the server's snapshot."));
  show();
}

function showPeers(doc: Doc) {
  const el = $('peers');
  el.textContent = '';
  const all = [{ user }, ...[...doc.awareness.peers.values()]] as Array<{ user?: typeof user }>;
  for (const p of all) {
    if (!p?.user) continue;
    const s = document.createElement('span');
    s.className = 'peer';
    s.innerHTML = `<i style="background:${p.user.color}"></i>`;
    s.append(p.user === user ? `${p.user.name} (you)` : p.user.name);
    el.append(s);
  }
}

const refused = () => message('Edit refused: this token is read-only.');

async function main() {
  const [text, rich] = await Promise.all([conn.openDocument<string>(`${docId}-text`, 'text'), conn.openDocument(`${docId}-rich`, 'rich-text')]);
  if (text.access === 'read') {
    $('banner').textContent = 'Read-only: you can follow this document but not edit it.';
    $('banner').hidden = false;
  }
  const view = new EditorView({
    parent: $('text-editor'),
    state: EditorState.create({
      doc: text.snapshot,
      extensions: [
        lineNumbers(),
        drawSelection(),
        highlightActiveLine(),
        EditorView.lineWrapping,
        codemirrorBinding(text, { user, onRefused: refused }),
        keymap.of(defaultKeymap),
      ],
    }),
  });
  const quill = new Quill($('rich-editor'), {
    theme: 'snow',
    modules: { toolbar: [['bold', 'italic', 'underline'], [{ header: [1, 2, false] }], [{ list: 'ordered' }, { list: 'bullet' }], ['clean']] },
  });
  bindQuill(quill, rich, { user, onRefused: refused });
  track(text, 'text');
  track(rich, 'rich');
  text.awareness.on('change', () => showPeers(text));
  showPeers(text);
  // For tests and for poking around from the console.
  Object.assign(window, { opstreamDemo: { conn, text, rich, view, quill } });
  document.body.dataset.ready = 'true';
}

main().catch((e) => message(`Could not open the documents: ${e.message}`));
