import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The folder of Herald's own package.json. Source (`src/`) and compiled (`dist/src/`) files sit
 * at different depths, so bundled assets such as the example contracts are found from here.
 */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('cannot find the herald package root');
    dir = parent;
  }
  return dir;
}
