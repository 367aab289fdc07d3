/**
 * A tiny codec for `google.protobuf.Struct`, the message Istio's sidecars exchange (base64) in
 * `x-envoy-peer-metadata`.
 *
 * Why hand-written: the exchange needs one well-known message with six value kinds and four wire
 * types. The libraries that could do it (protobufjs, @bufbuild/protobuf, google-protobuf) are
 * general protobuf runtimes, one to two orders of magnitude larger than this file, and the
 * header is parsed from untrusted peers, where a small decoder with explicit bounds is easier to
 * audit than a generic one.
 *
 * Wire format (struct.proto): `Struct { map<string, Value> fields = 1; }` — each entry a
 * length-delimited message `{ string key = 1; Value value = 2; }`; `Value` is a oneof of
 * `null_value = 1` (enum), `number_value = 2` (double), `string_value = 3`, `bool_value = 4`,
 * `struct_value = 5`, `list_value = 6` (`ListValue { repeated Value values = 1; }`).
 *
 * The encoder is deterministic like protobuf-C++'s `SetSerializationDeterministic(true)`, which
 * Envoy uses for the header (metadata_object.cc: serializeToStringDeterministic): map entries
 * sorted by key (byte order).
 */

/** A JSON-like value a Struct can carry. */
export type StructValue = null | number | string | boolean | StructValue[] | { [key: string]: StructValue };
export type StructFields = { [key: string]: StructValue };

export interface StructDecodeLimits {
  /** Largest message, in bytes (default 16 KiB). */
  maxBytes: number;
  /** Deepest nesting of struct/list values (default 8; Istio's metadata nests two levels). */
  maxDepth: number;
  /** Most map entries and list elements in total (default 1024). */
  maxFields: number;
}

export const DEFAULT_STRUCT_LIMITS: Readonly<StructDecodeLimits> = Object.freeze({ maxBytes: 16 * 1024, maxDepth: 8, maxFields: 1024 });

export class StructDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StructDecodeError';
  }
}

// ---- encoding ----

const utf8 = new TextEncoder();

class Writer {
  private buf = new Uint8Array(256);
  len = 0;
  private ensure(n: number) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.len));
    this.buf = next;
  }
  byte(b: number) {
    this.ensure(1);
    this.buf[this.len++] = b;
  }
  varint(v: number) {
    while (v > 0x7f) {
      this.byte((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    this.byte(v);
  }
  bytes(b: Uint8Array) {
    this.ensure(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }
  double(v: number) {
    this.ensure(8);
    new DataView(this.buf.buffer, this.buf.byteOffset + this.len, 8).setFloat64(0, v, true);
    this.len += 8;
  }
  /** Writes `tag` + length + the bytes `fn` writes. */
  nested(tag: number, fn: (w: Writer) => void) {
    const inner = new Writer();
    fn(inner);
    this.byte(tag);
    this.varint(inner.len);
    this.bytes(inner.finish());
  }
  finish(): Uint8Array {
    return this.buf.subarray(0, this.len);
  }
}

function compareBytes(a: string, b: string): number {
  // Protobuf sorts string map keys by their UTF-8 bytes; for the ASCII keys Istio uses this
  // equals UTF-16 order, but compare bytes to be exact.
  const x = utf8.encode(a);
  const y = utf8.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

function writeValue(w: Writer, v: StructValue) {
  if (v === null) {
    w.byte(0x08); // null_value = 1, varint 0
    w.byte(0);
  } else if (typeof v === 'number') {
    w.byte(0x11); // number_value = 2, fixed64
    w.double(v);
  } else if (typeof v === 'string') {
    const b = utf8.encode(v);
    w.byte(0x1a); // string_value = 3
    w.varint(b.length);
    w.bytes(b);
  } else if (typeof v === 'boolean') {
    w.byte(0x20); // bool_value = 4
    w.byte(v ? 1 : 0);
  } else if (Array.isArray(v)) {
    w.nested(0x32, (l) => {
      for (const x of v) l.nested(0x0a, (vw) => writeValue(vw, x)); // list_value = 6 { values = 1 }
    });
  } else {
    w.nested(0x2a, (s) => writeFields(s, v)); // struct_value = 5
  }
}

function writeFields(w: Writer, fields: StructFields) {
  for (const key of Object.keys(fields).sort(compareBytes)) {
    const value = fields[key];
    if (value === undefined) continue;
    w.nested(0x0a, (e) => {
      const k = utf8.encode(key);
      e.byte(0x0a);
      e.varint(k.length);
      e.bytes(k);
      e.nested(0x12, (vw) => writeValue(vw, value));
    });
  }
}

/** Serializes a Struct deterministically (keys sorted). */
export function encodeStruct(fields: StructFields): Uint8Array {
  const w = new Writer();
  writeFields(w, fields);
  return w.finish();
}

// ---- decoding ----

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

class Reader {
  pos: number;
  constructor(
    readonly buf: Uint8Array,
    start: number,
    readonly end: number,
  ) {
    this.pos = start;
  }
  varint(): number {
    let result = 0;
    let mul = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw new StructDecodeError('truncated varint');
      const b = this.buf[this.pos++]!;
      if (i < 7) result += (b & 0x7f) * mul; // beyond 49 bits no length or tag we accept is valid
      mul *= 128;
      if ((b & 0x80) === 0) return result;
    }
    throw new StructDecodeError('varint longer than 10 bytes');
  }
  /** A length-delimited field: returns [start, end) and advances past it. */
  span(): [number, number] {
    const n = this.varint();
    if (n > this.end - this.pos) throw new StructDecodeError('length beyond the message');
    const s = this.pos;
    this.pos += n;
    return [s, this.pos];
  }
  skip(wireType: number) {
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case 2:
        this.span();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        throw new StructDecodeError(`unsupported wire type ${wireType}`);
    }
  }
  advance(n: number) {
    if (n > this.end - this.pos) throw new StructDecodeError('truncated field');
    this.pos += n;
  }
  string(s: number, e: number): string {
    try {
      return utf8Strict.decode(this.buf.subarray(s, e));
    } catch {
      throw new StructDecodeError('string is not valid UTF-8'); // protobuf-C++ rejects it too
    }
  }
}

interface Budget {
  fields: number;
  readonly limits: StructDecodeLimits;
}

function readFields(buf: Uint8Array, start: number, end: number, depth: number, budget: Budget): StructFields {
  if (depth > budget.limits.maxDepth) throw new StructDecodeError('nested too deeply');
  const out: StructFields = Object.create(null) as StructFields;
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const [es, ee] = r.span();
      if (--budget.fields < 0) throw new StructDecodeError('too many fields');
      const er = new Reader(buf, es, ee);
      let key = '';
      let value: StructValue = null;
      while (er.pos < ee) {
        const t = er.varint();
        if (t === 0x0a) {
          const [ks, ke] = er.span();
          key = er.string(ks, ke);
        } else if (t === 0x12) {
          const [vs, ve] = er.span();
          value = readValue(buf, vs, ve, depth, budget);
        } else er.skip(t & 7);
      }
      out[key] = value; // the last entry for a key wins, as in protobuf maps
    } else r.skip(tag & 7);
  }
  return out;
}

function readValue(buf: Uint8Array, start: number, end: number, depth: number, budget: Budget): StructValue {
  const r = new Reader(buf, start, end);
  let value: StructValue = null;
  while (r.pos < end) {
    const tag = r.varint();
    switch (tag) {
      case 0x08:
        r.varint();
        value = null;
        break;
      case 0x11:
        r.advance(8);
        value = new DataView(buf.buffer, buf.byteOffset + r.pos - 8, 8).getFloat64(0, true);
        break;
      case 0x1a: {
        const [s, e] = r.span();
        value = r.string(s, e);
        break;
      }
      case 0x20:
        value = r.varint() !== 0;
        break;
      case 0x2a: {
        const [s, e] = r.span();
        value = readFields(buf, s, e, depth + 1, budget);
        break;
      }
      case 0x32: {
        const [s, e] = r.span();
        value = readList(buf, s, e, depth + 1, budget);
        break;
      }
      default:
        r.skip(tag & 7);
    }
  }
  return value;
}

function readList(buf: Uint8Array, start: number, end: number, depth: number, budget: Budget): StructValue[] {
  if (depth > budget.limits.maxDepth) throw new StructDecodeError('nested too deeply');
  const out: StructValue[] = [];
  const r = new Reader(buf, start, end);
  while (r.pos < end) {
    const tag = r.varint();
    if (tag === 0x0a) {
      const [s, e] = r.span();
      if (--budget.fields < 0) throw new StructDecodeError('too many fields');
      out.push(readValue(buf, s, e, depth, budget));
    } else r.skip(tag & 7);
  }
  return out;
}

/** Parses a serialized Struct; throws `StructDecodeError` on malformed or oversized input. */
export function decodeStruct(bytes: Uint8Array, limits: Partial<StructDecodeLimits> = {}): StructFields {
  const l: StructDecodeLimits = { ...DEFAULT_STRUCT_LIMITS, ...limits };
  if (bytes.length > l.maxBytes) throw new StructDecodeError(`message is ${bytes.length} bytes; the limit is ${l.maxBytes}`);
  return readFields(bytes, 0, bytes.length, 0, { fields: l.maxFields, limits: l });
}
