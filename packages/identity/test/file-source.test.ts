/**
 * Certificates mounted as files (Istio's cert-chain.pem, key.pem, root-cert.pem): loading,
 * reloading on change through fs.watch and through the poll, and rejecting half-written or
 * inconsistent sets while the last good one keeps serving.
 */
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CertificateAuthority, IdentityError, createFileIdentitySource, issueIdentity, writeIdentityFiles, type FileIdentitySource,
  type IdentityMaterial,
} from '../src/index.js';
import { tempDir } from './support.js';

const REVIEWS = 'spiffe://cluster.local/ns/default/sa/reviews';
const HOUR = 3_600_000;

let ca: CertificateAuthority;
beforeAll(async () => { ca = await CertificateAuthority.selfSigned(); });

function next<E extends 'change' | 'error'>(source: FileIdentitySource, event: E): Promise<E extends 'change' ? IdentityMaterial : IdentityError> {
  return new Promise((resolve) => {
    const sub = source.on(event, ((v: never) => { sub.dispose(); resolve(v); }) as never);
  });
}

async function rejects(p: Promise<unknown>): Promise<IdentityError> {
  try { await p; } catch (e) { if (e instanceof IdentityError) return e; throw e; }
  throw new Error('expected an IdentityError');
}

describe('createFileIdentitySource', () => {
  it('loads the three files (written with the key at 0600)', async () => {
    const dir = tempDir();
    const m = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, m);
    expect(statSync(join(dir, 'key.pem')).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'cert-chain.pem')).mode & 0o777).toBe(0o644);
    const source = await createFileIdentitySource({ dir, watch: false, pollIntervalMs: 0 });
    expect(source.current()).toMatchObject({ spiffeId: REVIEWS, certChainPem: m.certChainPem, keyPem: m.keyPem, rootsPem: ca.rootsPem });
    expect(source.current().notAfter).toEqual(m.notAfter);
    await source.close();
  });

  it('refuses a first set that is missing or invalid, naming the file', async () => {
    const dir = tempDir();
    let e = await rejects(createFileIdentitySource({ dir }));
    expect(e.reason).toBe('invalid_certificate_files');
    expect(e.message).toMatch(/cert-chain\.pem: missing: the folder must hold cert-chain\.pem, key\.pem, root-cert\.pem$/);

    const m = await issueIdentity(ca, { spiffeId: REVIEWS, notBefore: new Date(Date.now() - 2 * HOUR), notAfter: new Date(Date.now() - HOUR) });
    await writeIdentityFiles(dir, m);
    e = await rejects(createFileIdentitySource({ dir }));
    expect(e.file).toBe(join(dir, 'cert-chain.pem'));
    expect(e.message).toContain('the leaf certificate expired at');

    const good = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, good);
    writeFileSync(join(dir, 'root-cert.pem'), (await CertificateAuthority.selfSigned({ trustDomain: 'other.example' })).rootCertPem);
    e = await rejects(createFileIdentitySource({ dir }));
    expect(e.file).toBe(join(dir, 'cert-chain.pem'));
    expect(e.message).toContain('(checked against root-cert.pem): the leaf certificate is not signed by any trusted root');
  });
});

describe('reloading', () => {
  it('picks up new files through fs.watch', async () => {
    const dir = tempDir();
    await writeIdentityFiles(dir, await issueIdentity(ca, { spiffeId: REVIEWS }));
    const source = await createFileIdentitySource({ dir, pollIntervalMs: 0, debounceMs: 10 });
    // A read between the writer's three renames may see a new key with the old chain: that set is
    // rejected (reported here) and the next event brings the whole set.
    source.on('error', () => {});
    const changed = next(source, 'change');
    const renewed = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, renewed);
    const m = await changed;
    expect(m.certChainPem).toBe(renewed.certChainPem);
    expect(source.current()).toBe(m);
    await source.close();
  });

  it('picks up new files through the poll when there is no watcher', async () => {
    const dir = tempDir();
    await writeIdentityFiles(dir, await issueIdentity(ca, { spiffeId: REVIEWS }));
    const source = await createFileIdentitySource({ dir, watch: false, pollIntervalMs: 20 });
    source.on('error', () => {});
    const changed = next(source, 'change');
    const renewed = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, renewed);
    expect((await changed).certChainPem).toBe(renewed.certChainPem);
    await source.close();
  });

  it('rejects a half-written chain with one error naming the file; the last good set keeps serving until the set is whole', async () => {
    const dir = tempDir();
    const first = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, first);
    const source = await createFileIdentitySource({ dir, watch: false, pollIntervalMs: 0 });
    const errors: IdentityError[] = [];
    source.on('error', (e) => errors.push(e));
    const changes: IdentityMaterial[] = [];
    source.on('change', (m) => changes.push(m));

    const renewed = await issueIdentity(ca, { spiffeId: REVIEWS });
    // A writer that has written the new key and half of the new chain.
    writeFileSync(join(dir, 'key.pem'), renewed.keyPem);
    writeFileSync(join(dir, 'cert-chain.pem'), renewed.certChainPem.slice(0, 200));
    await source.reload();
    await source.reload(); // the same bad set is reported once
    expect(errors).toHaveLength(1);
    expect(errors[0]!.reason).toBe('invalid_certificate_files');
    expect(errors[0]!.file).toBe(join(dir, 'cert-chain.pem'));
    expect(errors[0]!.message).toBe(`${join(dir, 'cert-chain.pem')}: a certificate has no matching "-----END CERTIFICATE-----" line (a truncated or half-written file?); the last good certificate (${REVIEWS}, valid until ${first.notAfter.toISOString()}) keeps serving`);
    expect(source.current().certChainPem).toBe(first.certChainPem);

    // The whole chain lands: the set is consistent again.
    writeFileSync(join(dir, 'cert-chain.pem'), renewed.certChainPem);
    await source.reload();
    expect(source.current().certChainPem).toBe(renewed.certChainPem);
    expect(changes).toHaveLength(1);
    await source.close();
  });

  it('rejects a key that does not match the chain, naming key.pem, without printing the key', async () => {
    const dir = tempDir();
    const first = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, first);
    const source = await createFileIdentitySource({ dir, watch: false, pollIntervalMs: 0 });
    const error = next(source, 'error');
    const other = await issueIdentity(ca, { spiffeId: REVIEWS });
    writeFileSync(join(dir, 'key.pem'), other.keyPem);
    await source.reload();
    const e = await error;
    expect(e.file).toBe(join(dir, 'key.pem'));
    expect(e.message).toContain('key.pem: this key does not belong to the first certificate of cert-chain.pem (a half-written update? both files must change together)');
    expect(e.message).not.toContain('PRIVATE KEY');
    expect(source.current().keyPem).toBe(first.keyPem);
    writeFileSync(join(dir, 'key.pem'), 'garbage');
    const e2 = next(source, 'error');
    await source.reload();
    expect((await e2).message).toContain('key.pem: no PEM private key');
    await source.close();
  });

  it('reads no change when the files are rewritten with the same content', async () => {
    const dir = tempDir();
    const m = await issueIdentity(ca, { spiffeId: REVIEWS });
    await writeIdentityFiles(dir, m);
    const source = await createFileIdentitySource({ dir, watch: false, pollIntervalMs: 0 });
    let changes = 0;
    source.on('change', () => { changes++; });
    writeFileSync(join(dir, 'cert-chain.pem'), readFileSync(join(dir, 'cert-chain.pem')));
    await source.reload();
    expect(changes).toBe(0);
    await source.close();
  });
});
