/**
 * Runs jobs in worker processes: the host's only way to parse, quantize or run a model.
 *
 * - `summarize` jobs share one long-lived worker (cheap, frequent: the explorer asks for them);
 *   it exits after a minute idle.
 * - Every other job gets its own worker, so cancelling (which may kill the process) or a crash
 *   in native code never takes other jobs with it, and the next job starts fresh.
 *
 * Cancellation: the worker is asked to abort; if the job has not ended within `killAfterMs`,
 * the process is killed. Either way, temporary files the engine may have left next to a
 * quantize output (`.NAME.tmp-PID-*`) are removed.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CancelledError, InputError, WorkError } from '../../core/errors';
import { isStaleLock, lockPathFor } from '../../core/util/outputLock';
import { JOB_PROTOCOL, type JobProtocol, type JobRequest, type JobResults, type QuantizeJob } from '../../shared/protocol';
import { WorkerProcess, type Job, type JobHandlers, type JobOutcome, type Log } from './workerProcess';

type ResultOf<Results, Kind extends string> = Kind extends keyof Results ? Results[Kind] : never;

/** The worker died under a job (native crash, out of memory, killed from outside). */
export class WorkerCrashedError extends Error {
  override readonly name = 'WorkerCrashedError';
}

export interface RunOptions extends JobHandlers {
  signal?: AbortSignal | undefined;
  /** Fail the job (and kill its worker) after this long. */
  timeoutMs?: number | undefined;
}

export interface JobRunnerOptions {
  script: string;
  log: Log;
  env?: Record<string, string> | undefined;
  /** Grace period between asking a job to stop and killing its process. Default 2000 ms. */
  killAfterMs?: number;
  /** The shared summarize worker exits after this long without work. Default 60 s. */
  idleMs?: number;
  /** Labels and result checks of the jobs sent; default JOB_PROTOCOL (testJobs.ts adds the test jobs). */
  protocol?: JobProtocol;
}

/** Runs JobRequests by default; a runner given another protocol (the tests') names its jobs and results. */
export class JobRunner<J extends Job = JobRequest, Results = JobResults> {
  private shared: WorkerProcess | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private readonly live = new Set<WorkerProcess>();
  private disposed = false;

  constructor(private readonly options: JobRunnerOptions) {}

  /** Pids of live worker processes (tests check that crashed or cancelled workers are gone). */
  get workerPids(): number[] {
    return [...this.live].map((w) => w.pid);
  }

  async run<K extends J>(job: K, options: RunOptions = {}): Promise<ResultOf<Results, K['kind']>> {
    if (this.disposed) throw new CancelledError('the extension is shutting down');
    if (options.signal?.aborted) throw new CancelledError();
    const { log } = this.options;
    const protocol = this.options.protocol ?? JOB_PROTOCOL;
    const label = protocol.describe(job);
    const outputsBefore = snapshotOutputs(job);
    const worker = this.workerFor(job);
    const started = Date.now();
    const { id, outcome } = worker.start(job, options);
    log.info(`${label}: started (worker ${worker.pid}, job ${id})`);
    log.debug(`job ${id}: ${JSON.stringify(job)}`);

    let cancelled = false;
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const stop = (): void => {
      worker.cancel(id);
      killTimer ??= setTimeout(() => {
        log.warn(`${label}: did not stop within ${this.killAfterMs} ms; killing worker ${worker.pid}`);
        worker.kill();
      }, this.killAfterMs);
    };
    const onAbort = (): void => {
      cancelled = true;
      stop();
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    const timeout = options.timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          stop();
        }, options.timeoutMs)
      : undefined;

    let end: JobOutcome;
    try {
      end = await outcome;
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
      clearTimeout(killTimer);
      clearTimeout(timeout);
      this.release(worker);
    }
    const seconds = ((Date.now() - started) / 1000).toFixed(2);
    if (end.kind !== 'result') {
      removeTempFiles(job, worker.pid, log);
      removeUnfinishedOutputs(outputsBefore, log);
    }

    if (end.kind === 'result') {
      log.info(`${label}: done in ${seconds} s`);
      return end.result as ResultOf<Results, K['kind']>;
    }
    if (cancelled || end.kind === 'error' && end.name === 'CancelledError') {
      log.info(`${label}: cancelled after ${seconds} s`);
      throw new CancelledError();
    }
    if (timedOut) {
      log.error(`${label}: timed out after ${seconds} s`);
      throw new WorkError(`${label} timed out after ${seconds} s`);
    }
    if (end.kind === 'exit') {
      const how = end.signal ? `signal ${end.signal}` : `exit code ${end.code}`;
      log.error(`${label}: the worker process stopped unexpectedly (${how})`);
      throw new WorkerCrashedError(`${label} failed: the worker process stopped unexpectedly (${how})`);
    }
    log.error(`${label}: ${end.name}: ${end.message}`);
    if (end.name === 'InputError') throw new InputError(end.message);
    if (end.name === 'WorkError') throw new WorkError(end.message);
    throw new WorkError(`${end.name === 'Error' ? 'internal error' : end.name}: ${end.message}`);
  }

  /** Kill every worker (extension deactivation). */
  dispose(): void {
    this.disposed = true;
    clearTimeout(this.idleTimer);
    for (const w of this.live) w.kill();
    this.live.clear();
    this.shared = undefined;
  }

  private get killAfterMs(): number {
    return this.options.killAfterMs ?? 2000;
  }

  private workerFor(job: Job): WorkerProcess {
    if (job.kind === 'summarize') {
      clearTimeout(this.idleTimer);
      if (!this.shared?.alive) this.shared = this.spawn();
      return this.shared;
    }
    return this.spawn();
  }

  private spawn(): WorkerProcess {
    const w = new WorkerProcess({ script: this.options.script, log: this.options.log, env: this.options.env, protocol: this.options.protocol });
    this.live.add(w);
    w.onDidExit(() => {
      this.live.delete(w);
      if (this.shared === w) this.shared = undefined;
    });
    return w;
  }

  /** After a job: dedicated workers exit; the shared one idles, then exits. */
  private release(worker: WorkerProcess): void {
    if (worker !== this.shared) {
      // A job that ended normally lets its process exit cleanly; a cancelled or crashed one is already gone or being killed.
      worker.close();
      return;
    }
    if (worker.busy) return;
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.shared === worker && !worker.busy) worker.close();
    }, this.options.idleMs ?? 60_000);
    this.idleTimer.unref();
  }
}

/** Files a job writes, with their identity before it started (undefined: absent). */
type OutputSnapshot = { file: string; before: { ino: number; mtimeMs: number } | undefined }[];

const isQuantizeJob = (job: Job): job is QuantizeJob => job.kind === 'quantize';

function outputsOf(job: Job): string[] {
  return isQuantizeJob(job) ? [job.output, `${job.output}.data`].map((f) => path.resolve(f)) : [];
}

function snapshotOutputs(job: Job): OutputSnapshot {
  return outputsOf(job).map((file) => {
    const st = fs.statSync(file, { throwIfNoEntry: false });
    return { file, before: st ? { ino: st.ino, mtimeMs: st.mtimeMs } : undefined };
  });
}

/**
 * A job that did not finish must not leave an output behind. The engine cleans up after itself,
 * but a worker killed after its final rename (e.g. cancelled while ONNX Runtime validates the
 * output, which cannot be interrupted) cannot: remove outputs that are new or replaced since
 * the job started. Files that were there before and untouched are kept.
 */
function removeUnfinishedOutputs(snapshot: OutputSnapshot, log: Log): void {
  for (const { file, before } of snapshot) {
    const now = fs.statSync(file, { throwIfNoEntry: false });
    if (!now || (before && before.ino === now.ino && before.mtimeMs === now.mtimeMs)) continue;
    try {
      fs.rmSync(file, { force: true });
      log.info(`removed unfinished output ${file}`);
    } catch (e) {
      log.warn(`could not remove unfinished output ${file}: ${(e as Error).message}`);
    }
  }
}

/**
 * Remove what a failed job was writing: `.NAME.tmp-PID-*` siblings of its outputs (files and
 * staging folders) and the output's lock when the dead worker held it.
 */
export function removeTempFiles<T extends Job>(job: T, pid: number, log: Log): void {
  const targets = isQuantizeJob(job) ? [job.output, `${job.output}.data`] : [];
  for (const target of targets) {
    const dir = path.dirname(path.resolve(target));
    const prefix = `.${path.basename(target)}.tmp-${pid}-`;
    let names: string[];
    try {
      names = fs.readdirSync(dir);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith(prefix)) continue;
      try {
        fs.rmSync(path.join(dir, name), { recursive: true, force: true });
        log.info(`removed partial file ${path.join(dir, name)}`);
      } catch (e) {
        log.warn(`could not remove partial file ${name}: ${(e as Error).message}`);
      }
    }
  }
  if (isQuantizeJob(job)) {
    const lock = lockPathFor(path.resolve(job.output));
    if (isStaleLock(lock)) fs.rmSync(lock, { force: true });
  }
}
