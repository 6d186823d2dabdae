// Fastify's CommonJS code (@fastify/static) require()s an ESM-only package (content-disposition 3).
// Node 20.19+ loads it through require(esm), but jest's module runtime refuses to. For jest only,
// resolve it to a CommonJS copy transpiled by SWC (cached under node_modules/.cache). (cookie 2,
// ESM-only too, is avoided: package.json overrides light-my-request to 6.6.0, which uses cookie 1.)
const fs = require('node:fs');
const path = require('node:path');
const swc = require('@swc/core');

const ESM_ONLY = new Set(['content-disposition']);
const cacheDir = path.join(__dirname, '..', 'node_modules', '.cache', 'recoder-jest');

module.exports = (request, options) => {
  const resolved = options.defaultResolver(request, options);
  if (!ESM_ONLY.has(request)) return resolved;
  const target = path.join(cacheDir, `${request}.cjs`);
  const source = fs.readFileSync(resolved, 'utf8');
  const stamp = `// from ${resolved} ${fs.statSync(resolved).mtimeMs}\n`;
  if (!fs.existsSync(target) || !fs.readFileSync(target, 'utf8').startsWith(stamp)) {
    const { code } = swc.transformSync(source, {
      filename: resolved,
      module: { type: 'commonjs' },
      jsc: { target: 'es2022' },
    });
    fs.mkdirSync(cacheDir, { recursive: true });
    fs.writeFileSync(target, stamp + code);
  }
  return target;
};
