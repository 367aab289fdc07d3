/**
 * The SDK's on-disk cache (MESHWORK_CACHE_DIR): the last snapshot it applied, its
 * certificate and key, and its registration name, so a workload restarted while the control
 * service is away starts serving from them. Files are written whole (identity's
 * writeFileAtomic: temp file, then rename) so a crash never leaves half a file, off the event
 * loop, one write at a time per file so an older snapshot never lands after a newer one; the
 * folder is 0700 and every file 0600, since identity.json holds the private key. Reads are
 * synchronous: they happen once, when the Mesh starts.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KEY_FILE_MODE, writeFileAtomic, type IdentityMaterial } from '@meshwork/identity';
import type { WireSnapshot } from '@meshwork/policy';

export interface CachedRegistration {
  /** The workload's registration name, kept so a restart re-registers as the same WorkloadEntry. */
  name: string;
  id?: string | undefined;
  /**
   * Who the registration made the workload (namespace, labels and service account come from
   * its WorkloadGroup): a restart compiles the cached snapshot for the same workload.
   */
  workload?: { namespace: string; labels: Record<string, string>; serviceAccount: string; name: string } | undefined;
}

export interface CachedIdentity {
  certChainPem: string;
  keyPem: string;
  rootsPem: string[];
  spiffeId: string;
  notBefore: string;
  notAfter: string;
}

export class DiskCache {
  /** The last write of each file: the next one starts after it. */
  private readonly writes = new Map<string, Promise<void>>();

  constructor(readonly dir: string, private readonly onError: (message: string) => void = () => {}) {}

  readSnapshot(): WireSnapshot | undefined {
    const v = this.read('snapshot.json');
    return v && typeof v === 'object' && (v as WireSnapshot).kind === 'Snapshot' && Array.isArray((v as WireSnapshot).resources) ? (v as WireSnapshot) : undefined;
  }

  /** `json`: the snapshot as the control service sent it (already text: not serialised again). */
  writeSnapshot(json: string): void {
    this.write('snapshot.json', json);
  }

  readIdentity(): IdentityMaterial | undefined {
    const v = this.read('identity.json') as CachedIdentity | undefined;
    if (!v || typeof v.certChainPem !== 'string' || typeof v.keyPem !== 'string' || !Array.isArray(v.rootsPem)) return undefined;
    const notBefore = new Date(v.notBefore);
    const notAfter = new Date(v.notAfter);
    if (Number.isNaN(+notBefore) || Number.isNaN(+notAfter)) return undefined;
    return { certChainPem: v.certChainPem, keyPem: v.keyPem, rootsPem: v.rootsPem, spiffeId: v.spiffeId, notBefore, notAfter };
  }

  writeIdentity(m: IdentityMaterial): void {
    const v: CachedIdentity = { certChainPem: m.certChainPem, keyPem: m.keyPem, rootsPem: [...m.rootsPem], spiffeId: m.spiffeId, notBefore: m.notBefore.toISOString(), notAfter: m.notAfter.toISOString() };
    this.write('identity.json', JSON.stringify(v));
  }

  readRegistration(): CachedRegistration | undefined {
    const v = this.read('registration.json') as CachedRegistration | undefined;
    return v && typeof v.name === 'string' ? v : undefined;
  }

  writeRegistration(r: CachedRegistration): void {
    this.write('registration.json', JSON.stringify(r));
  }

  private read(file: string): unknown {
    try {
      return JSON.parse(readFileSync(join(this.dir, file), 'utf8'));
    } catch {
      // Missing or corrupt: the cache is an optimisation, the control service is the truth.
      return undefined;
    }
  }

  private write(file: string, text: string): void {
    const previous = this.writes.get(file) ?? Promise.resolve();
    const next = previous.then(async () => {
      mkdirSync(this.dir, { recursive: true, mode: 0o700 });
      await writeFileAtomic(join(this.dir, file), text, KEY_FILE_MODE);
    }).catch((e: unknown) => this.onError(`cannot write ${file} in the cache folder ${this.dir}: ${(e as Error).message}`));
    this.writes.set(file, next);
  }

  /** Resolves when every write asked for so far is on disk (or failed and was reported). */
  async flush(): Promise<void> {
    await Promise.all(this.writes.values());
  }
}
