import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROJECT_ROOT } from './env.js';

/**
 * The compiled JavaScript file of a worker-thread entry: `fileName` next to the calling module when
 * it runs from dist/, else dist/<dir of the module under the project root>/fileName (when the
 * caller runs from sources, e.g. under jest; `npm test` builds dist first).
 *
 * @param callerUrl the caller's `import.meta.url`
 */
export function compiledEntry(callerUrl: string, fileName: string): string {
  const here = fileURLToPath(callerUrl);
  const sibling = path.join(path.dirname(here), fileName);
  if (here.endsWith('.js') && existsSync(sibling)) return sibling;
  return path.join(PROJECT_ROOT, 'dist', path.relative(PROJECT_ROOT, path.dirname(here)), fileName);
}
