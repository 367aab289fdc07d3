/**
 * The workload's identity when it comes from the control service: the Mesh, its clusters
 * and its servers hold this one object from the start, and the real source (signed by the
 * control service's CA, or kept in the disk cache) is put behind it once it exists. Its
 * arrival is a 'change' like any rotation, so TLS pools and servers pick it up the same way.
 */
import type { Disposable, IdentityError, IdentityMaterial, IdentitySource, IdentitySourceEvents } from '@meshwork/identity';

export class DeferredIdentity implements IdentitySource {
  #inner: IdentitySource | undefined;
  #subs: Disposable[] = [];
  readonly #change = new Set<IdentitySourceEvents['change']>();
  readonly #error = new Set<IdentitySourceEvents['error']>();

  /** True once a real source stands behind this one. */
  get ready(): boolean {
    return this.#inner !== undefined;
  }

  /** The real source, if any. */
  get inner(): IdentitySource | undefined {
    return this.#inner;
  }

  current(): IdentityMaterial {
    if (!this.#inner) throw new Error('the workload has no certificate yet: the control service has not signed one (await mesh.ready())');
    return this.#inner.current();
  }

  on<E extends keyof IdentitySourceEvents>(event: E, listener: IdentitySourceEvents[E]): Disposable {
    const set = (event === 'change' ? this.#change : this.#error) as Set<IdentitySourceEvents[E]>;
    set.add(listener);
    return { dispose: () => { set.delete(listener); } };
  }

  /** Puts `source` behind this one (closing the previous one) and announces its material. */
  set(source: IdentitySource): void {
    const previous = this.#inner;
    for (const s of this.#subs) s.dispose();
    this.#inner = source;
    this.#subs = [
      source.on('change', (m) => this.#emitChange(m)),
      source.on('error', (e) => this.#emitError(e)),
    ];
    if (previous && previous !== source) void previous.close();
    this.#emitChange(source.current());
  }

  async close(): Promise<void> {
    for (const s of this.#subs) s.dispose();
    this.#subs = [];
    this.#change.clear();
    this.#error.clear();
    await this.#inner?.close();
  }

  #emitChange(m: IdentityMaterial): void {
    for (const l of [...this.#change]) {
      try {
        l(m);
      } catch {
        /* a listener's failure must not stop the others */
      }
    }
  }

  #emitError(e: IdentityError): void {
    if (this.#error.size === 0) {
      process.emitWarning(e.message, { code: 'MESHWORK_IDENTITY' });
      return;
    }
    for (const l of [...this.#error]) {
      try {
        l(e);
      } catch {
        /* idem */
      }
    }
  }
}
