/** The README's example runs as written, against the built package as users import it. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

it('README example runs', async () => {
  const readme = readFileSync(join(pkg, 'README.md'), 'utf8');
  const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(block).toBeTruthy();
  const dir = join(pkg, '.tmp');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'readme-example.mjs');
  // The example is plain JavaScript inside a ts fence; running it as .mjs imports
  // '@meshwork/policy' through the package's own exports (dist), as a user would.
  writeFileSync(file, block!);
  await import(`${file}?t=${Date.now()}`);
});
