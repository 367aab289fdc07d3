import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The shared Istio corpus, read in place (never copied into the repository). */
export const CORPUS = process.env.MESHWORK_ISTIO_CORPUS ?? resolve(fileURLToPath(import.meta.url), '../../../../../../shared/conformance/istio');
export const BOOKINFO = join(CORPUS, 'samples/bookinfo');
export const bookinfoKube = join(BOOKINFO, 'platform/kube/bookinfo.yaml');
export const bookinfoNet = (f: string) => join(BOOKINFO, 'networking', f);
