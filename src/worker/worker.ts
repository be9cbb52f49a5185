/**
 * Background worker process (dist/worker.js), forked by the extension host with Node IPC.
 * Parses, quantizes and runs models so that the extension host never does. Each `start`
 * message runs one job with its own AbortController; `cancel` aborts it. Messages follow
 * src/shared/protocol.ts; malformed ones are dropped with a note on stderr (the host logs it).
 */
import { oneLine, asEngineError } from '../core/errors';
import type { JobContext, Progress } from '../core/progress';
import { PROTOCOL_VERSION, parseHostMessage, startId, type LogLevel, type WorkerMessage } from '../shared/protocol';
import { parseTestStart } from '../shared/testJobs';
import { runJob } from './jobs';
import { runTestJob } from './jobs/testHooks';

const running = new Map<number, AbortController>();
// The test-only jobs (shared/testJobs.ts) are accepted only under this switch.
const testHooks = process.env.ONNX_QUANTIZER_TEST_HOOKS === '1';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

/** A start whose job is refused is answered, so the host's job does not wait for nothing. */
function refuse(id: number, reason: string): void {
  send({ v: PROTOCOL_VERSION, id, kind: 'error', error: { name: 'InputError', message: `job refused: ${reason}` } });
}

function handle(raw: unknown): void {
  const test = testHooks ? parseTestStart(raw) : undefined;
  if (test) {
    if (test.ok) start(test.id, () => runTestJob(test.job));
    else refuse(test.id, test.reason);
    return;
  }
  const parsed = parseHostMessage(raw);
  if (!parsed.ok) {
    process.stderr.write(`ignored malformed message: ${parsed.reason}\n`);
    const id = startId(raw);
    if (id !== undefined && !running.has(id)) refuse(id, parsed.reason);
    return;
  }
  const m = parsed.message;
  if (m.kind === 'cancel') {
    running.get(m.id)?.abort();
    return;
  }
  const { job } = m;
  start(m.id, (ctx) => runJob(job, ctx));
}

/** Runs one job with its own AbortController and reports its progress, logs and end. */
function start(id: number, run: (ctx: JobContext) => Promise<unknown>): void {
  if (running.has(id)) {
    process.stderr.write(`ignored duplicate start for job ${id}\n`);
    return;
  }
  const controller = new AbortController();
  running.set(id, controller);
  const log = (level: LogLevel, message: string): void => send({ v: PROTOCOL_VERSION, id, kind: 'log', level, message });
  const onProgress = (progress: Progress): void => {
    const p: Progress = { stage: String(progress.stage) };
    if (typeof progress.fraction === 'number' && Number.isFinite(progress.fraction)) p.fraction = Math.min(1, Math.max(0, progress.fraction));
    if (typeof progress.message === 'string') p.message = progress.message;
    send({ v: PROTOCOL_VERSION, id, kind: 'progress', progress: p });
  };
  run({ signal: controller.signal, onProgress, log: (line) => log('debug', line) })
    .then(
      (result) => send({ v: PROTOCOL_VERSION, id, kind: 'result', result }),
      (thrown: unknown) => {
        const err = asEngineError(thrown);
        const name = err instanceof Error ? err.name : 'Error';
        const known = name === 'InputError' || name === 'WorkError' || name === 'CancelledError';
        if (!known && err instanceof Error && err.stack) log('error', err.stack);
        send({ v: PROTOCOL_VERSION, id, kind: 'error', error: { name: known ? name : 'Error', message: oneLine(err) } });
      },
    )
    .finally(() => running.delete(id));
}

if (!process.send) {
  process.stderr.write('dist/worker.js is started by the ONNX Quantizer extension (it needs an IPC channel)\n');
  process.exit(2);
}
process.on('message', handle);
// The host went away (window closed, extension host crashed): nothing left to report to.
process.on('disconnect', () => process.exit(0));
