/**
 * For each task of the real-model suite: the realistic inputs a model is run on, its calibration
 * arrays (made from different samples of the same kind), how to run it (stateful models chunk by
 * chunk) and the task metric that compares a quantized run with the float one.
 */
import { type NpyArray } from '../../src/core/data/npy';
import type { InputSpec } from '../../src/core/data/inputs';
import { ErrorAccumulator } from '../../src/core/evaluate/stats';
import { createSession, ort, type InferenceSession, type OrtTensor } from '../../src/core/runtime/ort';
import { cachedPath, modelById, type Task } from './catalog';
import { rotate180, scene, SENTENCES, speech, textLine, textPage, toNchw } from './inputs';

export interface TaskRun {
  /** The main output of every run, concatenated: what SQNR and cosine are measured on. */
  output: Float32Array;
  /** Task-level values (decoded strings, probabilities, ...) for the task metric. */
  rows: number[][];
}

export interface TaskSpec {
  /** Name of the task metric and how to read it. */
  metric: string;
  /** Run the model (float or quantized) on the task's evaluation inputs. */
  run(session: InferenceSession): Promise<TaskRun>;
  /**
   * Calibration arrays by input name (samples on the first axis). `float`, a session on the float
   * model, gives recurrent models the states they reach when streamed over the calibration audio.
   */
  calibration(float?: InferenceSession): Promise<Record<string, NpyArray>>;
  /** The task metric of a candidate run against the float run (1 = same). */
  score(float: TaskRun, candidate: TaskRun): number;
}

const IMAGENET_MEAN = [0.485, 0.456, 0.406];
const IMAGENET_STD = [0.229, 0.224, 0.225];
const HALF = [0.5, 0.5, 0.5];

const f32 = (data: Float32Array, dims: number[]): OrtTensor => new (ort().Tensor)('float32', data, dims);
const i64 = (v: number): OrtTensor => new (ort().Tensor)('int64', BigInt64Array.from([BigInt(v)]), []);
const npyF32 = (data: Float32Array, shape: number[]): NpyArray => ({ dtype: 'float32', shape, data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
const asF32 = (t: OrtTensor | undefined): Float32Array => {
  if (!t) throw new Error('missing output');
  return t.data instanceof Float32Array ? t.data : Float32Array.from(t.data as ArrayLike<number>);
};

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

async function runFirstOutput(session: InferenceSession, feeds: Record<string, OrtTensor>): Promise<Float32Array> {
  const out = await session.run(feeds);
  return asF32(out[session.outputNames[0] ?? '']);
}

/** Levenshtein distance between two sequences. */
export function editDistance(a: readonly number[], b: readonly number[]): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** Greedy CTC decoding of [T, C] probabilities: arg-max per step, repeats merged, blank (0) dropped. */
export function ctcGreedy(probs: Float32Array, steps: number, classes: number): number[] {
  const out: number[] = [];
  let last = -1;
  for (let t = 0; t < steps; t++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if ((probs[t * classes + c] ?? 0) > (probs[t * classes + best] ?? 0)) best = c;
    if (best !== last && best !== 0) out.push(best);
    last = best;
  }
  return out;
}

const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 1);

/** Pixels where both maps say "text" over pixels where either does (threshold 0.3, PaddleOCR's default). */
function maskIou(a: Float32Array, b: Float32Array, threshold = 0.3): number {
  let inter = 0;
  let union = 0;
  for (let i = 0; i < a.length; i++) {
    const x = (a[i] ?? 0) > threshold;
    const y = (b[i] ?? 0) > threshold;
    if (x && y) inter++;
    if (x || y) union++;
  }
  return union ? inter / union : 1;
}

function textDetection(): TaskSpec {
  const pages = (seeds: number[]) => seeds.map((s) => textPage(640, 480, s));
  return {
    metric: 'text-map IoU',
    async run(session) {
      const maps = [];
      for (const page of pages([0, 1])) maps.push(await runFirstOutput(session, { [session.inputNames[0] ?? 'x']: f32(toNchw([page], IMAGENET_MEAN, IMAGENET_STD), [1, 3, 480, 640]) }));
      return { output: concat(maps), rows: [] };
    },
    async calibration() {
      return { x: npyF32(toNchw(pages([2, 3, 4]), IMAGENET_MEAN, IMAGENET_STD), [3, 3, 480, 640]) };
    },
    score: (f, c) => maskIou(f.output, c.output),
  };
}

function textRecognition(): TaskSpec {
  const lines = (texts: string[], font: number) => texts.map((t) => textLine(320, t, font));
  return {
    metric: 'character agreement',
    async run(session) {
      const imgs = lines(SENTENCES.slice(0, 4), 0);
      const out = await session.run({ [session.inputNames[0] ?? 'x']: f32(toNchw(imgs, HALF, HALF), [imgs.length, 3, 48, 320]) });
      const t = out[session.outputNames[0] ?? ''];
      if (!t) throw new Error('no output');
      const [n = 1, steps = 0, classes = 0] = t.dims;
      const probs = asF32(t);
      const rows = Array.from({ length: n }, (_, i) => ctcGreedy(probs.subarray(i * steps * classes, (i + 1) * steps * classes), steps, classes));
      return { output: probs, rows };
    },
    async calibration() {
      const imgs = [...lines(SENTENCES.slice(4), 1), ...lines(SENTENCES.slice(0, 2).map((s) => s.toUpperCase()), 1)];
      return { x: npyF32(toNchw(imgs, HALF, HALF), [imgs.length, 3, 48, 320]) };
    },
    score: (f, c) => mean(f.rows.map((r, i) => 1 - editDistance(r, c.rows[i] ?? []) / Math.max(1, r.length, c.rows[i]?.length ?? 0))),
  };
}

function textDirection(): TaskSpec {
  const set = (texts: string[], font: number) => texts.flatMap((t) => {
    const img = textLine(192, t.slice(0, 18), font);
    return [img, rotate180(img)];
  });
  return {
    metric: 'direction agreement',
    async run(session) {
      const imgs = set(SENTENCES.slice(0, 4), 0);
      const probs = await runFirstOutput(session, { [session.inputNames[0] ?? 'x']: f32(toNchw(imgs, HALF, HALF), [imgs.length, 3, 48, 192]) });
      return { output: probs, rows: imgs.map((_, i) => [(probs[i * 2 + 1] ?? 0) > (probs[i * 2] ?? 0) ? 1 : 0]) };
    },
    async calibration() {
      const imgs = set(SENTENCES.slice(2), 1);
      return { x: npyF32(toNchw(imgs, HALF, HALF), [imgs.length, 3, 48, 192]) };
    },
    score: (f, c) => mean(f.rows.map((r, i) => (r[0] === c.rows[i]?.[0] ? 1 : 0))),
  };
}

const EVAL_SPEECH = ['Hey Jarvis, what is the weather like today?', 'Please set a timer for five minutes and then remind me.'];
const CALIB_SPEECH = ['Alexa, turn on the kitchen lights.', 'The meeting starts at ten thirty in room four.'];
const CHUNK = 512;

/** Silero VAD, chunk by chunk with the recurrent state carried over; rows = speech probability per chunk. */
function vad(version: 'v4' | 'v5'): TaskSpec {
  const chunks = (texts: string[]) => texts.flatMap((t) => {
    const s = speech(t);
    return Array.from({ length: Math.floor(s.length / CHUNK) }, (_, i) => s.subarray(i * CHUNK, (i + 1) * CHUNK));
  });
  const stateSize = version === 'v4' ? [2, 1, 64] : [2, 1, 128];
  const stateLen = stateSize.reduce((a, b) => a * b, 1);
  /** Each text streamed chunk by chunk, the states carried over: every step's inputs and its speech probability. */
  const stream = async (session: InferenceSession, texts: string[]) => {
    const steps: { chunk: Float32Array; h: Float32Array; c: Float32Array; prob: number }[] = [];
    for (const text of texts) {
      let h = new Float32Array(stateLen);
      let c = new Float32Array(stateLen);
      for (const chunk of chunks([text])) {
        const feeds: Record<string, OrtTensor> = { input: f32(Float32Array.from(chunk), [1, CHUNK]), sr: i64(16000) };
        if (version === 'v4') Object.assign(feeds, { h: f32(h, stateSize), c: f32(c, stateSize) });
        else feeds.state = f32(h, stateSize);
        const out = await session.run(feeds);
        steps.push({ chunk: Float32Array.from(chunk), h, c, prob: asF32(out.output)[0] ?? 0 });
        if (version === 'v4') {
          h = Float32Array.from(asF32(out.hn));
          c = Float32Array.from(asF32(out.cn));
        } else h = Float32Array.from(asF32(out.stateN));
      }
    }
    return steps;
  };
  return {
    metric: 'speech decision agreement',
    async run(session) {
      const probs = (await stream(session, EVAL_SPEECH)).map((s) => s.prob);
      return { output: Float32Array.from(probs), rows: probs.map((p) => [p]) };
    },
    // The states each chunk meets when the float model streams the calibration speech (zeros without a session).
    async calibration(float) {
      const steps = float ? await stream(float, CALIB_SPEECH) : chunks(CALIB_SPEECH).map((chunk) => ({ chunk: Float32Array.from(chunk), h: new Float32Array(stateLen), c: new Float32Array(stateLen), prob: 0 }));
      const n = steps.length;
      const stateShape = [n, ...stateSize.filter((_, i) => i !== 1)];
      const arrays: Record<string, NpyArray> = {
        input: npyF32(concat(steps.map((s) => s.chunk)), [n, CHUNK]),
        sr: { dtype: 'int64', shape: [n], data: new Uint8Array(BigInt64Array.from({ length: n }, () => 16000n).buffer) },
      };
      if (version === 'v4') Object.assign(arrays, { h: npyF32(concat(steps.map((s) => s.h)), stateShape), c: npyF32(concat(steps.map((s) => s.c)), stateShape) });
      else arrays.state = npyF32(concat(steps.map((s) => s.h)), stateShape);
      return arrays;
    },
    score: (f, c) => mean(f.rows.map((r, i) => (((r[0] ?? 0) > 0.5) === ((c.rows[i]?.[0] ?? 0) > 0.5) ? 1 : 0))),
  };
}

/** openWakeWord feeds int16-scaled samples to its mel model. */
const pcm16 = (s: Float32Array) => Float32Array.from(s, (v) => v * 32767);
const MEL_SECONDS = 2.5;

function clip(s: Float32Array, seconds: number): Float32Array {
  const n = Math.round(seconds * 16000);
  const out = new Float32Array(n);
  out.set(s.subarray(0, n));
  return out;
}

function melspectrogram(): TaskSpec {
  const audio = (texts: string[]) => texts.map((t) => pcm16(clip(speech(t, { silenceSeconds: 0.2 }), MEL_SECONDS)));
  return {
    metric: 'mean frame cosine',
    async run(session) {
      const mels = [];
      for (const a of audio(EVAL_SPEECH)) mels.push(await runFirstOutput(session, { [session.inputNames[0] ?? 'input']: f32(a, [1, a.length]) }));
      return { output: concat(mels), rows: [] };
    },
    async calibration() {
      const as = audio(CALIB_SPEECH);
      return { input: npyF32(concat(as), [as.length, as[0]?.length ?? 0]) };
    },
    score: (f, c) => frameCosine(f.output, c.output, 32),
  };
}

function frameCosine(a: Float32Array, b: Float32Array, width: number): number {
  const rows = Math.floor(a.length / width);
  const acc = new ErrorAccumulator();
  acc.add(a.subarray(0, rows * width), b.subarray(0, rows * width), rows);
  return acc.meanRowCosine;
}

const floatSessions = new Map<string, Promise<InferenceSession>>();
function floatSession(id: string): Promise<InferenceSession> {
  let s = floatSessions.get(id);
  if (!s) floatSessions.set(id, (s = createSession(cachedPath(modelById(id)), { threads: 1 })));
  return s;
}
export async function releaseFloatSessions(): Promise<void> {
  for (const s of floatSessions.values()) await (await s).release();
  floatSessions.clear();
}

/** Mel frames of the float mel model, scaled as openWakeWord does (x / 10 + 2): [frames, 32] per utterance. */
async function melFrames(texts: string[], seconds: number): Promise<Float32Array[]> {
  const mel = await floatSession('oww-melspectrogram');
  const out = [];
  for (const t of texts) {
    const a = pcm16(clip(speech(t, { silenceSeconds: 0.2 }), seconds));
    out.push(Float32Array.from(await runFirstOutput(mel, { input: f32(a, [1, a.length]) }), (v) => v / 10 + 2));
  }
  return out;
}

/** Windows of 76 mel frames, stride 8, as the embedding model takes them: [N, 76, 32, 1]. */
async function melWindows(texts: string[], seconds = 3.2): Promise<{ data: Float32Array; n: number }> {
  const windows: Float32Array[] = [];
  for (const frames of await melFrames(texts, seconds)) {
    const count = frames.length / 32;
    for (let start = 0; start + 76 <= count; start += 8) windows.push(frames.subarray(start * 32, (start + 76) * 32));
  }
  return { data: concat(windows), n: windows.length };
}

function speechEmbedding(): TaskSpec {
  return {
    metric: 'embedding cosine',
    async run(session) {
      const w = await melWindows(EVAL_SPEECH);
      return { output: await runFirstOutput(session, { [session.inputNames[0] ?? 'input_1']: f32(w.data, [w.n, 76, 32, 1]) }), rows: [] };
    },
    async calibration() {
      const w = await melWindows(CALIB_SPEECH);
      return { input_1: npyF32(w.data, [w.n, 76, 32, 1]) };
    },
    score: (f, c) => frameCosine(f.output, c.output, 96),
  };
}

/** Sequences of `frames` consecutive speech embeddings (from the float models), stride 1: [N, frames, 96]. */
async function embeddingSequences(texts: string[], frames: number): Promise<{ data: Float32Array; n: number }> {
  const emb = await floatSession('oww-embedding');
  const seqs: Float32Array[] = [];
  for (const t of texts) {
    // Each embedding window advances 8 mel frames (80 ms): long enough clips for several sequences of `frames`.
    const w = await melWindows([t], 3.2 + frames * 0.08);
    const e = await runFirstOutput(emb, { input_1: f32(w.data, [w.n, 76, 32, 1]) });
    for (let start = 0; start + frames <= w.n; start++) seqs.push(e.subarray(start * 96, (start + frames) * 96));
  }
  return { data: concat(seqs), n: seqs.length };
}

/** Wake-word heads take [1, frames, 96] (frames fixed per model). */
function wakeword(input: InputSpec): TaskSpec {
  const frames = typeof input.dims?.[1] === 'number' ? input.dims[1] : 16;
  return {
    metric: 'score agreement (1 - max |Δ|)',
    async run(session) {
      const seqs = await embeddingSequences([...EVAL_SPEECH, ...CALIB_SPEECH.slice(0, 1)], frames);
      const scores = [];
      for (let i = 0; i < seqs.n; i++) scores.push(await runFirstOutput(session, { [input.name]: f32(seqs.data.slice(i * frames * 96, (i + 1) * frames * 96), [1, frames, 96]) }));
      return { output: concat(scores), rows: [] };
    },
    async calibration() {
      const seqs = await embeddingSequences(CALIB_SPEECH, frames);
      return { [input.name]: npyF32(seqs.data, [seqs.n, frames, 96]) };
    },
    score: (f, c) => 1 - f.output.reduce((m, v, i) => Math.max(m, Math.abs(v - (c.output[i] ?? 0))), 0),
  };
}

/** Background removal (imgly's ISNet): (x − 128) / 256 per channel, the first output is the mask; one scene to judge, two to calibrate. */
function salientObject(): TaskSpec {
  const SIZE = 1024;
  const tensor = (seeds: number[]) => toNchw(seeds.map((s) => scene(SIZE, s)), [128 / 255, 128 / 255, 128 / 255], [256 / 255, 256 / 255, 256 / 255]);
  return {
    metric: 'mask IoU',
    async run(session) {
      return { output: await runFirstOutput(session, { [session.inputNames[0] ?? 'input']: f32(tensor([0]), [1, 3, SIZE, SIZE]) }), rows: [] };
    },
    async calibration() {
      return { input: npyF32(tensor([1, 2]), [2, 3, SIZE, SIZE]) };
    },
    score: (f, c) => maskIou(f.output, c.output, 0.5),
  };
}

/** The task's spec for a model with these graph inputs. */
export function taskSpec(task: Task, inputs: InputSpec[]): TaskSpec {
  switch (task) {
    case 'text-detection':
      return textDetection();
    case 'text-recognition':
      return textRecognition();
    case 'text-direction':
      return textDirection();
    case 'vad-v4':
      return vad('v4');
    case 'vad-v5':
      return vad('v5');
    case 'melspectrogram':
      return melspectrogram();
    case 'speech-embedding':
      return speechEmbedding();
    case 'salient-object':
      return salientObject();
    case 'wakeword':
      if (!inputs[0]) throw new Error('a wake-word model without inputs');
      return wakeword(inputs[0]);
  }
}
