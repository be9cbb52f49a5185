import * as fs from 'node:fs';
import * as path from 'node:path';
import { fromBinary } from '@bufbuild/protobuf';
import { InputError } from '../errors';
import { ModelProtoSchema, TensorProto_DataLocation, type ModelProto, type TensorProto } from './schema';
import { resolveExternalLocation } from './paths';
import { walkTensors } from './walk';
import { tensorByteSize } from './tensor';
import { DataType, isKnownDataType } from './dtype';
import { openRegularFile, readExactly, readRegularFile, statRegularFile } from '../util/files';
import { readModelLazily } from './lazyWeights';

/** A loaded model: the parsed message, where it came from, and lazy access to its external data. */
export interface OnnxModel {
  /** Absolute path of the `.onnx` file. */
  readonly path: string;
  readonly dir: string;
  readonly proto: ModelProto;
  /** Size of the `.onnx` file alone. */
  readonly modelFileBytes: number;
  readonly external: ExternalDataReader;
}

/** A protobuf file cannot exceed 2 GiB; anything bigger is not a valid `.onnx` file. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

export interface LoadOptions {
  /** Skip the check that every external-data file exists and is safe (not recommended). */
  skipExternalCheck?: boolean;
  /**
   * Leave large initializers' raw_data in the file until something reads `tensor.rawData`
   * (lazyWeights.ts): for commands that need the graph, shapes and sizes but not the weights.
   */
  lazyWeights?: boolean;
}

/** Load a model from disk. Tensor bytes stay views into the file buffer. */
export function loadModel(file: string, options: LoadOptions = {}): OnnxModel {
  const abs = path.resolve(file);
  const stat = statRegularFile(abs, 'model');
  if (stat.size > PROTOBUF_LIMIT) {
    throw new InputError(`'${file}' is ${stat.size} bytes, over the 2 GiB protobuf limit: not a valid ONNX file (large weights belong in external data)`);
  }
  const proto = (options.lazyWeights ? readLazily(abs, file) : undefined) ?? parseModel(readRegularFile(abs, 'model', PROTOBUF_LIMIT), file);
  const model: OnnxModel = {
    path: abs,
    dir: path.dirname(abs),
    proto,
    modelFileBytes: stat.size,
    external: new ExternalDataReader(path.dirname(abs)),
  };
  if (!options.skipExternalCheck) model.external.checkAll(proto);
  return model;
}

function readLazily(abs: string, label: string): ModelProto | undefined {
  const { fd, size } = openRegularFile(abs, 'model');
  try {
    const proto = readModelLazily(abs, fd, size);
    return proto && checkModel(proto, label);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * The same model, its graph read again from its file on first use: for a loaded graph that was
 * rewritten in place (the quantizer's engines do) or let go, when the file's graph is needed.
 */
export function withGraphFromFile(model: OnnxModel): OnnxModel {
  const { path: file, dir, modelFileBytes, external } = model;
  let proto: ModelProto | undefined;
  return {
    path: file,
    dir,
    modelFileBytes,
    external,
    get proto() {
      return (proto ??= loadModel(file).proto);
    },
  };
}

/** Parse bytes as a ModelProto, with the checks that tell a model from other protobuf or junk. */
export function parseModel(bytes: Uint8Array, label = 'model'): ModelProto {
  let proto: ModelProto;
  try {
    proto = fromBinary(ModelProtoSchema, bytes, { readUnknownFields: true });
  } catch (e) {
    const msg = (e as Error).message ?? String(e);
    const why = /call stack|recursion depth/i.test(msg) ? 'subgraphs or messages nested too deeply' : msg;
    throw new InputError(`'${label}' is not a valid ONNX model (corrupted or truncated protobuf: ${why})`);
  }
  return checkModel(proto, label);
}

function checkModel(proto: ModelProto, label: string): ModelProto {
  if (!proto.graph || proto.irVersion <= 0n) {
    throw new InputError(`'${label}' is not an ONNX model (no graph or no ir_version)`);
  }
  return proto;
}

export function isExternal(t: TensorProto): boolean {
  return t.dataLocation === TensorProto_DataLocation.EXTERNAL;
}

export interface ExternalRef {
  location: string;
  offset: number;
  /** Undefined when the entry omits `length` (then: to the end of the file). */
  length: number | undefined;
}

/** Parse a tensor's `external_data` entries, validating numbers. */
export function externalRef(t: TensorProto): ExternalRef {
  let location: string | undefined;
  let offset = 0;
  let length: number | undefined;
  for (const { key, value } of t.externalData) {
    if (key === 'location') location = value;
    else if (key === 'offset' || key === 'length') {
      if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw new InputError(`external data for tensor '${t.name}' has an invalid ${key} '${value}'`);
      }
      if (key === 'offset') offset = Number(value);
      else length = Number(value);
    }
  }
  if (location === undefined) throw new InputError(`external data for tensor '${t.name}' has no location`);
  return { location, offset, length };
}

/**
 * Reads external tensor data lazily, only from files inside the model's folder.
 * File handles are opened on demand and kept until close().
 */
export class ExternalDataReader {
  private readonly fds = new Map<string, number>();
  private readonly resolved = new Map<string, string>();

  constructor(readonly dir: string) {}

  /** Absolute, validated path of a location (throws InputError when unsafe or missing). */
  resolve(location: string, tensorName: string): string {
    let p = this.resolved.get(location);
    if (!p) {
      p = resolveExternalLocation(this.dir, location, tensorName);
      this.resolved.set(location, p);
    }
    return p;
  }

  /** Validate every external reference of a model up front: every entry point refuses unsafe paths at load. */
  checkAll(proto: ModelProto): void {
    if (!proto.graph) return;
    for (const { tensor } of walkTensors(proto.graph)) {
      if (!isExternal(tensor)) continue;
      const ref = externalRef(tensor);
      const file = this.resolve(ref.location, tensor.name);
      const size = statRegularFile(file, `external data file of tensor '${tensor.name}'`).size;
      // Unknown and string types have no fixed size: their bytes are checked where they are used.
      const expected = isKnownDataType(tensor.dataType) && tensor.dataType !== DataType.STRING ? tensorByteSize(tensor) : undefined;
      const end = ref.offset + (ref.length ?? expected ?? 0);
      if (ref.offset > size || end > size) {
        throw new InputError(`external data for tensor '${tensor.name}' reaches byte ${end} of '${ref.location}', which has only ${size}`);
      }
      if (expected !== undefined && ref.length !== undefined && ref.length !== expected) {
        throw new InputError(`external data for tensor '${tensor.name}' holds ${ref.length} bytes, but its shape and type need ${expected}`);
      }
    }
  }

  /** Distinct external files this model uses, with their sizes. */
  files(proto: ModelProto): { location: string; bytes: number }[] {
    const out = new Map<string, number>();
    if (!proto.graph) return [];
    for (const { tensor } of walkTensors(proto.graph)) {
      if (!isExternal(tensor)) continue;
      const { location } = externalRef(tensor);
      if (!out.has(location)) out.set(location, statRegularFile(this.resolve(location, tensor.name), 'external data file').size);
    }
    return [...out].map(([location, bytes]) => ({ location, bytes }));
  }

  /**
   * Read one tensor's bytes from its external file (a fresh buffer; nothing else is read).
   * `expected` (shape × dtype) is checked against the entry's length before anything is allocated.
   */
  read(t: TensorProto, expected?: number): Buffer {
    const ref = externalRef(t);
    const file = this.resolve(ref.location, t.name);
    let fd = this.fds.get(file);
    if (fd === undefined) {
      fd = openRegularFile(file, `external data file of tensor '${t.name}'`).fd;
      this.fds.set(file, fd);
    }
    const size = fs.fstatSync(fd).size;
    const length = ref.length ?? size - ref.offset;
    if (ref.offset + length > size || length < 0) {
      throw new InputError(`external data for tensor '${t.name}' reaches past the end of '${ref.location}'`);
    }
    if (expected !== undefined && length !== expected) {
      throw new InputError(`external data for tensor '${t.name}' holds ${length} bytes, but its shape and type need ${expected}`);
    }
    const out = Buffer.allocUnsafe(length);
    readExactly(fd, out, ref.offset, `external data file '${ref.location}'`);
    return out;
  }

  close(): void {
    for (const fd of this.fds.values()) fs.closeSync(fd);
    this.fds.clear();
  }
}

/** Size on disk of the model file plus its external data files. */
export function modelDiskBytes(model: OnnxModel): number {
  return model.modelFileBytes + model.external.files(model.proto).reduce((s, f) => s + f.bytes, 0);
}

/** The files a model is read from: the `.onnx` and each external data file (real paths). */
export function modelFilePaths(model: OnnxModel): string[] {
  return [model.path, ...model.external.files(model.proto).map((f) => model.external.resolve(f.location, f.location))];
}

/**
 * The files the model at `file` is read from, by its graph alone (weights are not read), for
 * guarding writes before the work; just `file` when it cannot be loaded (its loader says why later).
 */
export function modelFilePathsAt(file: string): string[] {
  try {
    return modelFilePaths(loadModel(file, { lazyWeights: true }));
  } catch {
    return [file];
  }
}
