// Builds the browser bundle of the client (dist/opstream.min.js, to measure its size) and the
// demo (into host/demo/dist, embedded in the server binary). `node build.mjs --size` only
// prints the client's minified and gzipped size.
import * as esbuild from 'esbuild';
import { copyFileSync, mkdirSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const size = async () => {
  const r = await esbuild.build({ entryPoints: ['src/index.ts'], bundle: true, minify: true, format: 'esm', write: false, platform: 'browser' });
  const code = r.outputFiles[0].contents;
  const gz = gzipSync(code, { level: 9 }).length;
  return { min: code.length, gz };
};

if (process.argv.includes('--size')) {
  const { min, gz } = await size();
  console.log(`client bundle (no editor libraries): ${(min / 1024).toFixed(1)} KB minified, ${(gz / 1024).toFixed(1)} KB minified+gzipped`);
  process.exit(0);
}

await esbuild.build({ entryPoints: ['src/index.ts'], bundle: true, minify: true, format: 'esm', outfile: 'dist/opstream.min.js', platform: 'browser', sourcemap: true });
const out = '../../host/demo/dist';
mkdirSync(out, { recursive: true });
await esbuild.build({
  entryPoints: { app: 'demo/main.ts' },
  bundle: true,
  minify: true,
  format: 'esm',
  outdir: out,
  platform: 'browser',
  target: 'es2020',
  sourcemap: false,
  logLevel: 'warning',
});
copyFileSync('demo/index.html', `${out}/index.html`);
const { gz } = await size();
console.log(`built dist/ and ${out}; client bundle ${(gz / 1024).toFixed(1)} KB min+gz`);

