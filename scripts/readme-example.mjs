// Runs the first ```ts block of a package's README as written, against the built package as
// users import it: the block is plain JavaScript, saved as .tmp/readme-example.mjs inside the
// package (so bare imports resolve through the package's own dependencies and exports), then
// imported. Shared by every package's test/readme.test.ts so the docs cannot rot.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** `packageDir`: the package folder as a URL or path. Throws when the README has no example. */
export async function runReadmeExample(packageDir) {
  const pkg = packageDir instanceof URL ? fileURLToPath(packageDir) : packageDir;
  const block = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(pkg, 'README.md'), 'utf8'))?.[1];
  if (!block) throw new Error(`${join(pkg, 'README.md')} has no \`\`\`ts example block`);
  mkdirSync(join(pkg, '.tmp'), { recursive: true });
  const file = join(pkg, '.tmp', 'readme-example.mjs');
  writeFileSync(file, block);
  await import(`${file}?t=${Date.now()}`);
}
