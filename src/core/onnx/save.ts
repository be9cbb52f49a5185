import * as fs from 'node:fs';
import * as path from 'node:path';
import { randomBytes } from 'node:crypto';
import { create, toBinary } from '@bufbuild/protobuf';
import { InputError } from '../errors';
import { isExternal, PROTOBUF_LIMIT, type OnnxModel } from './model';
import { ModelProtoSchema, StringStringEntryProtoSchema, TensorProto_DataLocation, type ModelProto, type TensorProto } from './schema';
import { tensorBytes } from './tensor';
import { walkTensors } from './walk';
import { writeModel } from './serialize';
import { sameFile } from './paths';
import { checkWritableTarget } from '../util/files';
import { guardWrite, type WriteRules } from '../util/writeGuard';

export interface SaveOptions {
  /**
   * 'auto' (default): tensors go to an external data file only when the model would pass 2 GiB.
   * 'always': every tensor of at least `sizeThreshold` bytes goes external. 'never': all inline.
   */
  externalData?: 'auto' | 'always' | 'never';
  /** External data file name, relative to the output's folder. Default: `<output file name>.data`. */
  location?: string;
  /** Smallest tensor moved to external data (bytes). Default 1024, as ONNX's own saver. */
  sizeThreshold?: number;
  /** The model these tensors were loaded from, to read tensors that were already external there. */
  source?: OnnxModel | undefined;
  /** Replace an existing output file. Without it, an existing output is an error. */
  force?: boolean;
  /** Files that must never be written (the inputs). */
  protect?: string[];
  /** An external-data writer already filled while the model was built (streaming quantization). */
  writer?: ExternalDataWriter;
}

export interface SaveResult {
  path: string;
  modelBytes: number;
  /** External data file written, if any. */
  dataPath?: string;
  dataBytes: number;
}

/** Leave headroom under the protobuf limit for the graph itself. */
const AUTO_EXTERNAL_LIMIT = PROTOBUF_LIMIT - 64 * 2 ** 20;

/**
 * Check an output path before any work (see util/writeGuard.ts): never the input model or
 * another input of the run, never a special file, never an existing file without force.
 */
export function checkOutputPath(out: string, inputs: string[], force: boolean): void {
  const [model, ...others] = inputs;
  guardWrite(out, 'output', { model, inputs: others, force });
}

/** A temporary sibling path: same folder, so the final rename is atomic. */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.tmp-${process.pid}-${randomBytes(4).toString('hex')}`);
}

/**
 * Appends tensor bytes to an external data file written under a temporary name; commit()
 * renames it into place, abort() removes it. Offsets are aligned so tensors can be mapped.
 */
export class ExternalDataWriter {
  readonly tempPath: string;
  private fd: number;
  private offset = 0;
  private readonly written = new WeakSet<TensorProto>();

  constructor(
    readonly finalPath: string,
    readonly location: string,
  ) {
    this.tempPath = tempPathFor(finalPath);
    this.fd = fs.openSync(this.tempPath, 'wx');
  }

  get bytes(): number {
    return this.offset;
  }

  /** Write `bytes` and turn `tensor` into a reference to them (raw_data cleared). */
  externalize(tensor: TensorProto, bytes: Uint8Array): void {
    const align = bytes.length >= 1 << 20 ? 4096 : 64;
    const pad = (align - (this.offset % align)) % align;
    if (pad) this.writeAll(new Uint8Array(pad));
    const start = this.offset;
    this.writeAll(bytes);
    tensor.rawData = new Uint8Array(0);
    tensor.dataLocation = TensorProto_DataLocation.EXTERNAL;
    tensor.externalData = [
      create(StringStringEntryProtoSchema, { key: 'location', value: this.location }),
      create(StringStringEntryProtoSchema, { key: 'offset', value: String(start) }),
      create(StringStringEntryProtoSchema, { key: 'length', value: String(bytes.length) }),
    ];
    this.written.add(tensor);
  }

  owns(tensor: TensorProto): boolean {
    return this.written.has(tensor);
  }

  private writeAll(bytes: Uint8Array): void {
    let done = 0;
    while (done < bytes.length) done += fs.writeSync(this.fd, bytes, done, bytes.length - done, this.offset + done);
    this.offset += bytes.length;
  }

  commit(): void {
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = -1;
    fs.renameSync(this.tempPath, this.finalPath);
  }

  abort(): void {
    if (this.fd >= 0) {
      try {
        fs.closeSync(this.fd);
      } catch {
        /* already closed */
      }
      this.fd = -1;
    }
    fs.rmSync(this.tempPath, { force: true });
  }
}

/** Write bytes to `file` atomically: temp file in the same folder, fsync, rename. */
export function writeFileAtomic(file: string, bytes: Uint8Array | string, guard?: { what: string; rules: WriteRules }): void {
  if (guard) guardWrite(file, guard.what, guard.rules);
  else checkWritableTarget(file, 'output');
  const tmp = tempPathFor(file);
  try {
    const fd = fs.openSync(tmp, 'wx');
    try {
      fs.writeFileSync(fd, bytes);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

/**
 * Save a model atomically. The caller's message is left as it was: tensors moved to external
 * data are changed only while serialising and restored afterwards.
 */
export function saveModel(proto: ModelProto, out: string, options: SaveOptions = {}): SaveResult {
  const outAbs = path.resolve(out);
  const protect = options.protect ?? (options.source ? [options.source.path] : []);
  checkOutputPath(outAbs, protect, options.force ?? false);
  const mode = options.externalData ?? 'auto';
  const threshold = options.sizeThreshold ?? 1024;
  const location = options.location ?? `${path.basename(outAbs)}.data`;
  if (location.includes('/') || location.includes('\\') || location === '..') {
    throw new InputError(`external data location '${location}' must be a plain file name`);
  }
  const dataPath = path.join(path.dirname(outAbs), location);
  for (const input of protect) {
    if (sameFile(dataPath, input)) throw new InputError(`external data file '${dataPath}' would overwrite the input '${input}'; choose another output name`);
  }

  const tensors = proto.graph ? [...walkTensors(proto.graph)].map((v) => v.tensor) : [];
  const sizeOf = (t: TensorProto): number => (isExternal(t) ? externalLength(t) : t.rawData.length);
  const writer = options.writer;
  const pending = tensors.filter((t) => !writer?.owns(t));
  const inlineTotal = pending.reduce((s, t) => s + sizeOf(t), 0);
  const goExternal = mode === 'always' || (mode === 'auto' && (inlineTotal > AUTO_EXTERNAL_LIMIT || !!writer));
  if (mode === 'never' && writer) throw new Error('saveModel: externalData never with a writer');

  // Snapshot tensor storage fields so the caller's message can be restored exactly.
  const saved = pending.map((t) => ({ t, raw: t.rawData, loc: t.dataLocation, ext: t.externalData }));
  let dataWriter = writer;
  let ownWriter = false;
  const tmpModel = tempPathFor(outAbs);
  try {
    for (const t of pending) {
      const external = isExternal(t);
      const size = sizeOf(t);
      if (goExternal && size >= threshold) {
        if (!dataWriter) {
          if (checkWritableTarget(dataPath, 'external data file') && !options.force) throw new InputError(`external data file '${dataPath}' already exists; use --force to replace it`);
          dataWriter = new ExternalDataWriter(dataPath, location);
          ownWriter = true;
        }
        dataWriter.externalize(t, tensorBytes(t, options.source));
      } else if (external) {
        // Tensors external in the source come inline (small, or the output is small enough).
        const bytes = tensorBytes(t, options.source);
        t.rawData = bytes as Uint8Array<ArrayBuffer>;
        t.dataLocation = TensorProto_DataLocation.DEFAULT;
        t.externalData = [];
      }
    }
    // Streamed tensor by tensor (serialize.ts): no second copy of the weights in memory.
    const fd = fs.openSync(tmpModel, 'wx');
    let modelBytes: number;
    try {
      modelBytes = writeModel(fd, proto);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    const dataBytes = dataWriter?.bytes ?? 0;
    if (dataWriter) dataWriter.commit();
    fs.renameSync(tmpModel, outAbs);
    const result: SaveResult = { path: outAbs, modelBytes, dataBytes };
    if (dataWriter) result.dataPath = dataWriter.finalPath;
    return result;
  } catch (e) {
    fs.rmSync(tmpModel, { force: true });
    if (dataWriter) dataWriter.abort();
    throw e;
  } finally {
    for (const s of saved) {
      s.t.rawData = s.raw;
      s.t.dataLocation = s.loc;
      s.t.externalData = s.ext;
    }
    void ownWriter;
  }
}

function externalLength(t: TensorProto): number {
  const len = t.externalData.find((e) => e.key === 'length');
  return len ? Number(len.value) : 0;
}

/** Serialise without touching disk (small models, tests, round-trip checks). */
export function modelToBytes(proto: ModelProto): Uint8Array {
  return toBinary(ModelProtoSchema, proto);
}
