// Builds the extension bundle (dist/extension.js) and, with --tests, each
// module unbundled into out/ for the unit tests, which load them with a
// stand-in for the `vscode` module.
import { build } from 'esbuild';
import { readdirSync } from 'node:fs';

const common = { platform: 'node', target: 'node18', format: 'cjs', sourcemap: true, logLevel: 'warning' };

await build({
  ...common,
  entryPoints: ['src/extension.ts'],
  bundle: true,
  external: ['vscode'],
  outfile: 'dist/extension.js',
  minify: process.argv.includes('--minify'),
});

if (process.argv.includes('--tests')) {
  await build({
    ...common,
    entryPoints: readdirSync('src').filter((f) => f.endsWith('.ts')).map((f) => `src/${f}`),
    bundle: false,
    outdir: 'out',
  });
}
