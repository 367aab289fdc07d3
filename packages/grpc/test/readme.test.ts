/** The README's example runs as written, against the built package as users import it. */
import { it } from 'vitest';
import { runReadmeExample } from '../../../scripts/readme-example.mjs';

it('README example runs', () => runReadmeExample(new URL('..', import.meta.url)));
