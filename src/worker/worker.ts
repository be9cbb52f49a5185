/**
 * Background worker process (dist/worker.js), forked by the extension host with Node IPC.
 * Parses, quantizes and runs models so that the extension host never does. Each `start`
 * message runs one job with its own AbortController; `cancel` aborts it. Messages follow
 * src/shared/protocol.ts; malformed ones are dropped with a note on stderr (the host logs it).
 */
import { oneLine, asEngineError } from '../core/errors';
import type { Progress } from '../core/progress';
import { PROTOCOL_VERSION, TEST_JOB_KINDS, parseHostMessage, type LogLevel, type WorkerMessage } from '../shared/protocol';
import { runJob } from './jobs';

const running = new Map<number, AbortController>();
const testHooks = process.env.ONNX_QUANTIZER_TEST_HOOKS === '1';

function send(message: WorkerMessage): void {
  process.send?.(message);
}

function handle(raw: unknown): void {
  const parsed = parseHostMessage(raw);
  if (!parsed.ok) {
    process.stderr.write(`ignored malformed message: ${parsed.reason}\n`);
    return;
  }
  const m = parsed.message;
  if (m.kind === 'cancel') {
    running.get(m.id)?.abort();
    return;
  }
  const { id, job } = m;
  if (running.has(id)) {
    process.stderr.write(`ignored duplicate start for job ${id}\n`);
    return;
  }
  if (TEST_JOB_KINDS.includes(job.kind) && !testHooks) {
    send({ v: PROTOCOL_VERSION, id, kind: 'error', error: { name: 'InputError', message: `job kind '${job.kind}' is only available with ONNX_QUANTIZER_TEST_HOOKS=1` } });
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
  runJob(job, { signal: controller.signal, onProgress, log: (line) => log('debug', line) })
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
