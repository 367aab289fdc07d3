/**
 * Certificates mounted as files, as Istio's file-mounted certs (`/etc/certs`): `cert-chain.pem`,
 * `key.pem`, `root-cert.pem`. Reloaded when they change (fs.watch on the folder, plus a poll
 * because watchers miss changes on some file systems and through Kubernetes' symlink swaps). A
 * half-written or inconsistent set is rejected with one error naming the file; the last good set
 * keeps serving.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyParsedChain } from './certificate.js';
import { IdentityError, messageOf } from './errors.js';
import { parseCertificates, parsePrivateKey } from './pem.js';
import { Listeners, material, type Disposable, type IdentityMaterial, type IdentitySource, type IdentitySourceEvents } from './source.js';

/** The file names of Istio's file-mounted workload certificates. */
export const WORKLOAD_CERT_FILES = Object.freeze({
  certChain: 'cert-chain.pem',
  key: 'key.pem',
  rootCert: 'root-cert.pem',
});

/** Options of {@link createFileIdentitySource}. */
export interface FileIdentitySourceOptions {
  /** The folder holding `cert-chain.pem`, `key.pem` and `root-cert.pem`. */
  dir: string;
  /** Also check the files this often (default 10 s; 0 turns polling off). */
  pollIntervalMs?: number;
  /** Watch the folder with fs.watch (default true). */
  watch?: boolean;
  /** Wait this long after a change event before reading, so a writer can finish (default 100 ms). */
  debounceMs?: number;
  /** Clock for the validity check; for tests. */
  now?: () => number;
}

/** An {@link IdentitySource} reading a folder. */
export interface FileIdentitySource extends IdentitySource {
  /**
   * Reads the files now. Resolves to the material in force afterwards; a rejected set is
   * reported on `error` (once per content) and the previous material stays.
   */
  reload(): Promise<IdentityMaterial>;
}

/**
 * Loads the certificate files of `options.dir` and follows their changes. Rejects (with an
 * {@link IdentityError} naming the file) when the first set is missing or invalid.
 *
 * @example
 * ```ts
 * const source = await createFileIdentitySource({ dir: '/etc/certs' });
 * source.on('error', (e) => log.warn(e.message)); // e.g. "/etc/certs/key.pem: ... does not match ..."
 * ```
 */
export async function createFileIdentitySource(options: FileIdentitySourceOptions): Promise<FileIdentitySource> {
  const poll = options.pollIntervalMs ?? 10_000;
  if (!(poll >= 0)) throw new IdentityError(`pollIntervalMs must be >= 0, got ${poll}`, { reason: 'invalid_option' });
  const source = new FileSource(options);
  // File stats before the read: a change racing the first read then shows at the next poll.
  const stats = await source.stats();
  const first = await source.load();
  source.start(first, stats, poll);
  return source;
}

interface Loaded { material: IdentityMaterial; signature: string }

class FileSource implements FileIdentitySource {
  readonly #o: FileIdentitySourceOptions;
  readonly #listeners = new Listeners();
  #current!: Loaded;
  #lastRejected: string | undefined;
  #statSignature = '';
  #watcher: FSWatcher | undefined;
  #poll: NodeJS.Timeout | undefined;
  #debounce: NodeJS.Timeout | undefined;
  #running: Promise<IdentityMaterial> | undefined;
  #again = false;
  #closed = false;

  constructor(o: FileIdentitySourceOptions) {
    this.#o = o;
  }

  current(): IdentityMaterial {
    return this.#current.material;
  }

  on<E extends keyof IdentitySourceEvents>(event: E, listener: IdentitySourceEvents[E]): Disposable {
    return this.#listeners.on(event, listener);
  }

  /** Reads and checks the three files; throws an IdentityError naming the file. */
  async load(): Promise<Loaded> {
    const dir = this.#o.dir;
    const path = (name: string): string => join(dir, name);
    const bad = (name: string, message: string, cause?: unknown): IdentityError =>
      new IdentityError(`${path(name)}: ${message}`, { reason: 'invalid_certificate_files', file: path(name), cause });
    const read = async (name: string): Promise<string> => {
      try {
        return await readFile(path(name), 'utf8');
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') throw bad(name, `missing: the folder must hold ${Object.values(WORKLOAD_CERT_FILES).join(', ')}`, e);
        throw bad(name, `cannot be read (${messageOf(e)})`, e);
      }
    };
    // Read all three, then report the first problem in a fixed order (not whichever read lost a race).
    const reads = await Promise.allSettled([read(WORKLOAD_CERT_FILES.certChain), read(WORKLOAD_CERT_FILES.key), read(WORKLOAD_CERT_FILES.rootCert)]);
    for (const r of reads) if (r.status === 'rejected') throw r.reason;
    const [chainPem, keyPem, rootPem] = reads.map((r) => (r as PromiseFulfilledResult<string>).value) as [string, string, string];
    const signature = `${chainPem}\0${keyPem}\0${rootPem}`;
    const chain = parseCertificates(chainPem, path(WORKLOAD_CERT_FILES.certChain), 'invalid_certificate_files', path(WORKLOAD_CERT_FILES.certChain));
    const key = parsePrivateKey(keyPem, path(WORKLOAD_CERT_FILES.key), 'invalid_certificate_files', path(WORKLOAD_CERT_FILES.key));
    const roots = parseCertificates(rootPem, path(WORKLOAD_CERT_FILES.rootCert), 'invalid_certificate_files', path(WORKLOAD_CERT_FILES.rootCert));
    if (!chain[0]!.checkPrivateKey(key)) {
      throw bad(WORKLOAD_CERT_FILES.key, `this key does not belong to the first certificate of ${WORKLOAD_CERT_FILES.certChain} (a half-written update? both files must change together)`);
    }
    const info = verifyParsedChain(chain, roots, {
      at: (this.#o.now ?? Date.now)(),
      what: `${path(WORKLOAD_CERT_FILES.certChain)} (checked against ${WORKLOAD_CERT_FILES.rootCert})`,
      reason: 'invalid_certificate_files',
      file: path(WORKLOAD_CERT_FILES.certChain),
    });
    if (!info.spiffeId) {
      throw bad(WORKLOAD_CERT_FILES.certChain, `the first certificate has no spiffe:// URI SAN (its URI SANs: ${info.uris.join(', ') || 'none'}); mesh certificates carry spiffe://<trust-domain>/ns/<ns>/sa/<sa>`);
    }
    return {
      signature,
      material: material({ certChainPem: chainPem, keyPem, rootsPem: roots.map((r) => r.toString()), spiffeId: info.spiffeId, notBefore: info.notBefore, notAfter: info.notAfter }),
    };
  }

  start(first: Loaded, stats: string, pollMs: number): void {
    this.#current = first;
    this.#statSignature = stats;
    if (this.#o.watch ?? true) {
      try {
        // persistent: false — a watcher must not keep the process alive.
        this.#watcher = watch(this.#o.dir, { persistent: false }, () => this.#changed());
        // A watcher that fails (folder removed, too many watches) leaves the poll to do the job.
        this.#watcher.on('error', () => { this.#watcher?.close(); this.#watcher = undefined; });
      } catch {
        this.#watcher = undefined;
      }
    }
    if (pollMs > 0) {
      this.#poll = setInterval(() => { void this.#pollOnce(); }, pollMs);
      this.#poll.unref();
    }
  }

  reload(): Promise<IdentityMaterial> {
    if (this.#closed) return Promise.resolve(this.#current.material);
    // One read at a time; a change during a read triggers one more.
    if (this.#running) { this.#again = true; return this.#running; }
    this.#running = (async () => {
      try {
        do {
          this.#again = false;
          await this.#reloadOnce();
        } while (this.#again && !this.#closed);
        return this.#current.material;
      } finally {
        this.#running = undefined;
      }
    })();
    return this.#running;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#watcher?.close();
    this.#watcher = undefined;
    if (this.#poll) clearInterval(this.#poll);
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#listeners.clear();
    await this.#running?.catch(() => undefined);
  }

  async #reloadOnce(): Promise<void> {
    this.#statSignature = await this.stats();
    let loaded: Loaded;
    try {
      loaded = await this.load();
    } catch (e) {
      const err = e instanceof IdentityError ? e : new IdentityError(`${this.#o.dir}: ${messageOf(e)}`, { reason: 'invalid_certificate_files', cause: e });
      // Report a bad set once, not on every poll while it stays bad.
      const key = `${err.message}`;
      if (key !== this.#lastRejected && !this.#closed) {
        this.#lastRejected = key;
        this.#listeners.error(new IdentityError(`${err.message}; the last good certificate (${this.#current.material.spiffeId}, valid until ${this.#current.material.notAfter.toISOString()}) keeps serving`, { reason: err.reason, file: err.file, cause: err }));
      }
      return;
    }
    this.#lastRejected = undefined;
    if (loaded.signature === this.#current.signature || this.#closed) return;
    this.#current = loaded;
    this.#listeners.change(loaded.material);
  }

  #changed(): void {
    if (this.#closed) return;
    if (this.#debounce) clearTimeout(this.#debounce);
    this.#debounce = setTimeout(() => { this.#debounce = undefined; void this.reload(); }, this.#o.debounceMs ?? 100);
    this.#debounce.unref();
  }

  async #pollOnce(): Promise<void> {
    if (this.#closed || this.#running) return;
    const s = await this.stats();
    if (s !== this.#statSignature) await this.reload();
  }

  /** Size, mtime and inode of the three files (stat follows symlinks, so a swapped link shows). */
  async stats(): Promise<string> {
    const parts = await Promise.all(Object.values(WORKLOAD_CERT_FILES).map(async (name) => {
      try {
        const s = await stat(join(this.#o.dir, name));
        return `${s.ino}:${s.size}:${s.mtimeMs}:${s.ctimeMs}`;
      } catch {
        return 'missing';
      }
    }));
    return parts.join('|');
  }
}
