import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * The dashboard's build: web/dashboard → dist/dashboard (served by the API at /dashboard/, see
 * src/dashboard/serve-dashboard.ts). Relative URLs (base './'), one script and one stylesheet with
 * content hashes, nothing fetched at run time but /graphql.
 */
export default defineConfig({
  root: here,
  base: './',
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'preact' } },
  build: {
    outDir: path.resolve(here, '../../dist/dashboard'),
    emptyOutDir: true,
    target: 'es2022',
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    modulePreload: false,
    // No CSS minifier: vite's (lightningcss) needs an optional dependency npm may prune; the CSS is small and gzip does the rest.
    cssMinify: false,
  },
});
