/** The README's example runs as written, against the built package as users import it. */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';

const pkg = join(dirname(fileURLToPath(import.meta.url)), '..');

it('README example runs', async () => {
  const block = /```ts\n([\s\S]*?)```/.exec(readFileSync(join(pkg, 'README.md'), 'utf8'))?.[1];
  expect(block).toBeTruthy();
  mkdirSync(join(pkg, '.tmp'), { recursive: true });
  const file = join(pkg, '.tmp', 'readme-example.mjs');
  writeFileSync(file, block!);
  await import(`${file}?t=${Date.now()}`);
});
