/** File helpers shared by the CA store and the file source. */
import { randomBytes } from 'node:crypto';
import { chmod, readFile, rename, rm, writeFile } from 'node:fs/promises';

/** Mode of private key files: owner read/write only. */
export const KEY_FILE_MODE = 0o600;
/** Mode of certificate files: public. */
export const CERT_FILE_MODE = 0o644;

/**
 * Writes a file so that readers see either the old or the whole new content (temp file in the
 * same folder, then rename), with exactly `mode`: the mode is set before the rename, so a key
 * is never readable by others even for a moment, whatever the umask.
 */
export async function writeFileAtomic(path: string, data: string, mode: number): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(tmp, data, { mode, flag: 'wx' });
    await chmod(tmp, mode);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw e;
  }
}

/** Reads a text file; undefined when it does not exist. */
export async function readIfExists(path: string): Promise<string | undefined> {
  try {
    return await readFile(path, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}
