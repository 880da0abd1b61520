// Starts the real OpStream binary (OPSTREAM_BIN, default ../../bin/opstream) on a free port
// with a temporary data directory, for the Node and browser tests.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
export const bin = resolve(process.env.OPSTREAM_BIN ?? join(here, '../../../bin/opstream'));
export const pluginsDir = join(dirname(bin), 'plugins');

/** Tokens the tokens authorizer grants (when startServer is given {tokens: true}). */
export const TOKENS = { write: 'write-token-ann', write2: 'write-token-bob', read: 'read-token-eve' };

/**
 * startServer runs `opstream serve` and resolves once it is ready.
 * opts.demo adds --demo; opts.tokens uses the tokens authorizer with TOKENS; opts.addr picks the
 * listen address (default a free port).
 */
export async function startServer(opts = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'opstream-js-'));
  let yaml = `plugins:\n  engines:\n    rich-text: {module: ${pluginsDir}/rich-text.wasm}\n    json0: {module: ${pluginsDir}/json0.wasm}\n` +
    ['form', 'json', 'tree', 'table', 'counter'].map((t) => `    ${t}: {module: ${pluginsDir}/${t}.wasm}\n`).join('');
  if (opts.tokens) {
    yaml += `  authorizer:\n    module: ${pluginsDir}/tokens.wasm\n    config:\n      tokens:\n` +
      `        ${TOKENS.write}: {access: write, subject: ann}\n` +
      `        ${TOKENS.write2}: {access: write, subject: bob}\n` +
      `        ${TOKENS.read}: {access: read, subject: eve}\n`;
  }
  writeFileSync(join(dir, 'config.yaml'), yaml);
  const args = ['serve', '--addr', opts.addr ?? '127.0.0.1:0', '--data-dir', join(dir, 'data'), '--config', join(dir, 'config.yaml')];
  if (opts.demo) args.push('--demo');
  const proc = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, OPSTREAM_LOG_LEVEL: 'info' } });
  let log = '';
  const addr = await new Promise((res, rej) => {
    const t = setTimeout(() => rej(new Error(`server did not start:\n${log}`)), 30000);
    const onData = (b) => {
      log += b.toString();
      const m = /msg="opstream serving".*? addr=(\S+)/.exec(log);
      if (m) {
        clearTimeout(t);
        res(m[1]);
      }
    };
    proc.stdout.on('data', onData);
    proc.stderr.on('data', onData);
    proc.on('exit', (code) => {
      clearTimeout(t);
      rej(new Error(`server exited with ${code}:\n${log}`));
    });
  });
  const url = `http://${addr}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${url}/health/ready`)).ok) break;
    } catch {}
    if (i > 100) throw new Error('server never became ready');
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    url,
    log: () => log,
    /** getDocRaw returns GET /v1/docs/{id}'s body as text (to compare snapshots byte for byte). */
    async getDocRaw(id) {
      const r = await fetch(`${url}/v1/docs/${encodeURIComponent(id)}`);
      if (!r.ok) throw new Error(`GET ${id}: ${r.status} ${await r.text()}`);
      return r.text();
    },
    async getDoc(id, token) {
      const r = await fetch(`${url}/v1/docs/${encodeURIComponent(id)}`, token ? { headers: { authorization: `Bearer ${token}` } } : {});
      if (!r.ok) throw new Error(`GET ${id}: ${r.status} ${await r.text()}`);
      return r.json();
    },
    async stop() {
      proc.removeAllListeners('exit');
      const done = new Promise((r) => proc.once('exit', r));
      proc.kill('SIGTERM');
      await Promise.race([done, new Promise((r) => setTimeout(r, 5000))]);
      if (proc.exitCode === null) proc.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
