/**
 * Objects that carry a private key print without it: `console.log`, `util.inspect` and
 * `JSON.stringify` (pino, most loggers) show `[redacted]`. The key stays an ordinary property for
 * code that reads it (`material.keyPem`), so TLS options take it as usual.
 */
const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** The text printed instead of a private key. */
export const REDACTED = '[redacted]';

/** Freezes `obj` and makes its `field` print as `[redacted]`. */
export function redactKeyPem<T extends object, K extends keyof T & string>(obj: T, field: K): Readonly<T> {
  const printable = (): Record<string, unknown> => ({ ...obj, [field]: REDACTED });
  Object.defineProperty(obj, 'toJSON', { value: printable, enumerable: false });
  Object.defineProperty(obj, INSPECT, {
    value: (_depth: number, options: object, inspect: (v: unknown, o: object) => string) => inspect(printable(), options),
    enumerable: false,
  });
  return Object.freeze(obj);
}
