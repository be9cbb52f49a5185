/**
 * Load a model without reading its large weights: the protobuf wire format is walked through
 * the file (ModelProto.graph → GraphProto.initializer → TensorProto.raw_data), every field
 * except the `raw_data` of large main-graph initializers is read and parsed as usual, and those
 * bytes are read from the file the first time something asks for `tensor.rawData`. Commands that
 * only need the graph, shapes and sizes (inspect) then never read most of the file. Anything the
 * walk does not expect (groups, a repeated graph field, a truncated field) returns undefined:
 * the caller loads the whole file, which reports what is wrong.
 */
import * as fs from 'node:fs';
import { fromBinary } from '@bufbuild/protobuf';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema, type GraphProto, type ModelProto, type TensorProto } from './schema';
import { readExactly } from '../util/files';

/** raw_data from this size on is left in the file until read. */
export const LAZY_RAW_DATA_BYTES = 64 * 1024;

const MODEL_GRAPH = 7;
const GRAPH_INITIALIZER = 5;
const TENSOR_RAW_DATA = 9;
const WIRE_VARINT = 0;
const WIRE_FIXED64 = 1;
const WIRE_LEN = 2;
const WIRE_FIXED32 = 5;

class Unexpected extends Error {}

/** First read after a jump; doubled while the reads follow each other. */
const READ_CHUNK = 16 * 1024;

/** Sequential reads over a file descriptor through a buffer; large spans are skipped, not read. */
class FileCursor {
  private buf = Buffer.allocUnsafe(1 << 20);
  private start = 0;
  private filled = 0;
  private chunk = READ_CHUNK;
  private lastEnd = -1;
  pos = 0;

  constructor(
    private readonly fd: number,
    readonly size: number,
  ) {}

  private ensure(n: number): void {
    if (this.pos + n > this.size) throw new Unexpected('truncated');
    if (this.pos >= this.start && this.pos + n <= this.start + this.filled) return;
    if (n > this.buf.length) this.buf = Buffer.allocUnsafe(n);
    this.start = this.pos;
    // Small reads after a skip (the next field is often just a tensor header), larger ones when sequential.
    this.chunk = this.pos === this.lastEnd ? Math.min(this.buf.length, this.chunk * 2) : READ_CHUNK;
    this.filled = fs.readSync(this.fd, this.buf, 0, Math.min(Math.max(n, this.chunk), this.size - this.pos), this.pos);
    this.lastEnd = this.start + this.filled;
    if (this.filled < n) throw new Unexpected('short read');
  }

  varint(): number {
    let result = 0;
    for (let shift = 0; shift < 64; shift += 7) {
      this.ensure(1);
      const b = this.buf[this.pos - this.start] ?? 0;
      this.pos++;
      // Lengths and tags fit in 2^53; larger values only matter for varint fields, copied as bytes.
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
    }
    throw new Unexpected('bad varint');
  }

  /** A copy of the bytes from `from` (already passed, still buffered or re-read) to the cursor. */
  bytesSince(from: number): Uint8Array {
    const n = this.pos - from;
    const end = this.pos;
    this.pos = from;
    const out = this.take(n);
    this.pos = end;
    return out;
  }

  take(n: number): Uint8Array {
    if (n <= this.buf.length) {
      this.ensure(n);
      const out = Uint8Array.prototype.slice.call(this.buf, this.pos - this.start, this.pos - this.start + n);
      this.pos += n;
      return out;
    }
    const out = new Uint8Array(n);
    readExactly(this.fd, out, this.pos, 'model');
    this.pos += n;
    return out;
  }

  skip(n: number): void {
    if (this.pos + n > this.size) throw new Unexpected('truncated');
    this.pos += n;
  }

  /** Pass over one field's value of wire type `wire`. */
  skipValue(wire: number): void {
    if (wire === WIRE_VARINT) this.varint();
    else if (wire === WIRE_FIXED64) this.skip(8);
    else if (wire === WIRE_FIXED32) this.skip(4);
    else if (wire === WIRE_LEN) this.skip(this.varint());
    else throw new Unexpected(`wire type ${wire}`);
  }
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** `tensor.rawData` read from `file` at first use (then kept); assigning replaces it. */
function deferRawData(tensor: TensorProto, file: string, offset: number, length: number): void {
  let bytes: Uint8Array<ArrayBuffer> | undefined;
  Object.defineProperty(tensor, 'rawData', {
    enumerable: true,
    configurable: true,
    get() {
      if (!bytes) {
        const fd = fs.openSync(file, 'r');
        try {
          bytes = new Uint8Array(length);
          readExactly(fd, bytes, offset, `model '${file}'`);
        } finally {
          fs.closeSync(fd);
        }
      }
      return bytes;
    },
    set(value: Uint8Array<ArrayBuffer>) {
      bytes = value;
    },
  });
}

function readTensor(cursor: FileCursor, end: number, file: string): TensorProto {
  const parts: Uint8Array[] = [];
  let raw: { offset: number; length: number } | undefined;
  while (cursor.pos < end) {
    const from = cursor.pos;
    const tag = cursor.varint();
    const wire = tag & 7;
    if (tag >>> 3 === TENSOR_RAW_DATA && wire === WIRE_LEN) {
      const length = cursor.varint();
      if (length >= LAZY_RAW_DATA_BYTES) {
        raw = { offset: cursor.pos, length };
        cursor.skip(length);
        continue;
      }
      cursor.pos = from;
      cursor.varint();
    }
    cursor.skipValue(wire);
    parts.push(cursor.bytesSince(from));
  }
  if (cursor.pos !== end) throw new Unexpected('tensor overruns');
  const tensor = fromBinary(TensorProtoSchema, concat(parts), { readUnknownFields: true });
  if (raw) deferRawData(tensor, file, raw.offset, raw.length);
  return tensor;
}

/** One GraphProto field's fields into `graph` (a graph written in pieces repeats the field: protobuf merges them). */
function readGraph(cursor: FileCursor, end: number, file: string, graph: { parts: Uint8Array[]; initializers: TensorProto[] }): void {
  while (cursor.pos < end) {
    const from = cursor.pos;
    const tag = cursor.varint();
    const wire = tag & 7;
    if (tag >>> 3 === GRAPH_INITIALIZER && wire === WIRE_LEN) {
      const length = cursor.varint();
      graph.initializers.push(readTensor(cursor, cursor.pos + length, file));
      continue;
    }
    cursor.skipValue(wire);
    graph.parts.push(cursor.bytesSince(from));
  }
  if (cursor.pos !== end) throw new Unexpected('graph overruns');
}

/** The model with large initializers' raw_data read on demand, or undefined when the walk cannot tell. */
export function readModelLazily(file: string, fd: number, size: number): ModelProto | undefined {
  const cursor = new FileCursor(fd, size);
  const parts: Uint8Array[] = [];
  let graph: { parts: Uint8Array[]; initializers: TensorProto[] } | undefined;
  try {
    while (cursor.pos < size) {
      const from = cursor.pos;
      const tag = cursor.varint();
      const wire = tag & 7;
      if (tag >>> 3 === MODEL_GRAPH && wire === WIRE_LEN) {
        const length = cursor.varint();
        readGraph(cursor, cursor.pos + length, file, (graph ??= { parts: [], initializers: [] }));
        continue;
      }
      cursor.skipValue(wire);
      parts.push(cursor.bytesSince(from));
    }
    const model = fromBinary(ModelProtoSchema, concat(parts), { readUnknownFields: true });
    if (graph) {
      // Parsing the concatenated pieces is protobuf's merge; the initializers keep their order.
      const merged: GraphProto = fromBinary(GraphProtoSchema, concat(graph.parts), { readUnknownFields: true });
      merged.initializer = graph.initializers;
      model.graph = merged;
    }
    return model;
  } catch {
    return undefined;
  }
}
