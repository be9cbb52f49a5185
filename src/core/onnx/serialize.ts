/**
 * Writing a ModelProto to a file without a serialised copy of the whole message: the model minus
 * its main-graph initializers is encoded once, then each initializer follows as one more
 * occurrence of ModelProto.graph holding just that tensor. Protobuf parsers merge repeated
 * occurrences of a message field (repeated fields concatenated in order), so readers see the
 * original graph; each tensor's raw data goes to the file straight from where it lies.
 * Models with less than STREAM_FROM_BYTES of initializer data are encoded in one piece, in the
 * canonical layout (a load + save round trip then gives back the same bytes).
 */
import * as fs from 'node:fs';
import { create, toBinary } from '@bufbuild/protobuf';
import { InputError } from '../errors';
import { PROTOBUF_LIMIT } from './model';
import { GraphProtoSchema, ModelProtoSchema, TensorProtoSchema, type ModelProto } from './schema';
import { withFields } from './builder';

/** Tags (field number << 3 | length-delimited): ModelProto.graph = 7, GraphProto.initializer = 5, TensorProto.raw_data = 9. */
const MODEL_GRAPH = 7 * 8 + 2;
const GRAPH_INITIALIZER = 5 * 8 + 2;
const TENSOR_RAW_DATA = 9 * 8 + 2;

function varint(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n % 0x80) | 0x80);
    n = Math.floor(n / 0x80);
  }
  out.push(n);
  return out;
}

/** From this much raw initializer data on, a model is written tensor by tensor. */
export const STREAM_FROM_BYTES = 8 * 2 ** 20;

/** Serialise `proto` into the open file `fd`; returns the bytes written. */
export function writeModel(fd: number, proto: ModelProto, streamFrom = STREAM_FROM_BYTES): number {
  const graph = proto.graph;
  const rawBytes = (graph?.initializer ?? []).reduce((s, t) => s + t.rawData.length, 0);
  if (rawBytes < streamFrom) {
    const bytes = toBinary(ModelProtoSchema, proto);
    if (bytes.length > PROTOBUF_LIMIT) throw new InputError('model is over 2 GiB even with external data');
    writeAll(fd, bytes);
    return bytes.length;
  }
  const pieces: { head: Uint8Array; raw: Uint8Array }[] = [];
  let total = 0;
  const start = graph ? toBinary(ModelProtoSchema, create(ModelProtoSchema, { ...proto, graph: create(GraphProtoSchema, { ...graph, initializer: [] }) })) : toBinary(ModelProtoSchema, proto);
  total += start.length;
  for (const t of graph?.initializer ?? []) {
    const raw = t.rawData;
    const header = toBinary(TensorProtoSchema, raw.length ? withFields(t, { rawData: new Uint8Array(0) }) : t);
    const rawField = raw.length ? [TENSOR_RAW_DATA, ...varint(raw.length)] : [];
    const tensorLength = header.length + rawField.length + raw.length;
    const graphLength = 1 + varint(tensorLength).length + tensorLength;
    const prefix = Uint8Array.from([MODEL_GRAPH, ...varint(graphLength), GRAPH_INITIALIZER, ...varint(tensorLength)]);
    const head = new Uint8Array(prefix.length + header.length + rawField.length);
    head.set(prefix, 0);
    head.set(header, prefix.length);
    head.set(rawField, prefix.length + header.length);
    pieces.push({ head, raw });
    total += head.length + raw.length;
  }
  if (total > PROTOBUF_LIMIT) throw new InputError('model is over 2 GiB even with external data');
  writeAll(fd, start);
  for (const p of pieces) {
    writeAll(fd, p.head);
    writeAll(fd, p.raw);
  }
  return total;
}

function writeAll(fd: number, bytes: Uint8Array): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done);
}
