/**
 * One forked worker process and the jobs running in it. No `vscode` import: the job runner is
 * tested in plain Node (test/unit/worker).
 */
import { fork, type ChildProcess } from 'node:child_process';
import type { Progress } from '../../core/progress';
import {
  PROTOCOL_VERSION,
  JOB_PROTOCOL,
  parseWorkerMessage,
  type HostMessage,
  type JobProtocol,
  type LogLevel,
} from '../../shared/protocol';

/** The subset of vscode.LogOutputChannel the runner needs (a console works in tests). */
export interface Log {
  trace(message: string): void;
  debug(message: string): void;
  info(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface JobHandlers {
  onProgress?: ((p: Progress) => void) | undefined;
  onLog?: ((level: LogLevel, message: string) => void) | undefined;
}

/** How a job ended, before the runner turns it into a value or an error. */
export type JobOutcome =
  | { kind: 'result'; result: unknown }
  | { kind: 'error'; name: string; message: string }
  | { kind: 'exit'; code: number | null; signal: NodeJS.Signals | null };

/** A job as the runner sends it: a JobRequest, or a kind its protocol extension adds. */
export interface Job {
  kind: string;
}

/** What the host sends: the protocol's messages, with a start of any job its protocol knows. */
type Outgoing = HostMessage | { v: 1; id: number; kind: 'start'; job: Job };

interface Pending {
  job: Job;
  handlers: JobHandlers;
  settle: (o: JobOutcome) => void;
}

export interface WorkerSpawnOptions {
  /** Absolute path of dist/worker.js. */
  script: string;
  log: Log;
  /** Extra environment (e.g. ONNX_QUANTIZER_TEST_HOOKS). */
  env?: Record<string, string> | undefined;
  /** The jobs' result checks; default JOB_PROTOCOL. */
  protocol?: JobProtocol | undefined;
}

export class WorkerProcess {
  private readonly child: ChildProcess;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private exited = false;
  private readonly exitListeners: (() => void)[] = [];

  constructor(private readonly options: WorkerSpawnOptions) {
    // The extension host's own executable runs the worker: Electron behaves as plain Node with
    // ELECTRON_RUN_AS_NODE, and execArgv is cleared so the host's inspector/flags are not inherited.
    this.child = fork(options.script, [], {
      execArgv: [],
      env: { ...process.env, ELECTRON_RUN_AS_NODE: '1', ...options.env },
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      serialization: 'json',
    });
    const { log } = options;
    log.debug(`worker ${this.pid} started`);
    this.child.stdout?.setEncoding('utf8').on('data', (s: string) => forEachLine(s, (l) => log.debug(`[worker ${this.pid}] ${l}`)));
    this.child.stderr?.setEncoding('utf8').on('data', (s: string) => forEachLine(s, (l) => log.warn(`[worker ${this.pid}] ${l}`)));
    this.child.on('message', (raw) => this.receive(raw));
    this.child.on('error', (e) => log.error(`worker ${this.pid}: ${e.message}`));
    this.child.on('exit', (code, signal) => this.onExit(code, signal));
  }

  get pid(): number {
    return this.child.pid ?? -1;
  }

  get alive(): boolean {
    return !this.exited;
  }

  get busy(): boolean {
    return this.pending.size > 0;
  }

  onDidExit(listener: () => void): void {
    if (this.exited) listener();
    else this.exitListeners.push(listener);
  }

  /** Start a job; the promise settles once with how it ended (never rejects). */
  start<T extends Job>(job: T, handlers: JobHandlers): { id: number; outcome: Promise<JobOutcome> } {
    const id = this.nextId++;
    const outcome = new Promise<JobOutcome>((settle) => {
      if (this.exited) {
        settle({ kind: 'exit', code: null, signal: null });
        return;
      }
      this.pending.set(id, { job, handlers, settle });
    });
    this.send({ v: PROTOCOL_VERSION, id, kind: 'start', job });
    return { id, outcome };
  }

  cancel(id: number): void {
    if (this.pending.has(id)) this.send({ v: PROTOCOL_VERSION, id, kind: 'cancel' });
  }

  kill(): void {
    if (!this.exited) this.child.kill('SIGKILL');
  }

  /** Let an idle worker exit on its own (it exits when the IPC channel closes); kill it if it lingers. */
  close(graceMs = 2000): void {
    if (this.exited) return;
    if (this.child.connected) this.child.disconnect();
    setTimeout(() => this.kill(), graceMs).unref();
  }

  /** For tests: send anything, valid or not. */
  sendRaw(message: unknown): void {
    if (!this.exited && this.child.connected) this.child.send(message as object);
  }

  private send(message: Outgoing): void {
    if (this.exited || !this.child.connected) return;
    this.child.send(message, (err) => {
      if (err) this.options.log.warn(`worker ${this.pid}: could not send ${message.kind}: ${err.message}`);
    });
  }

  private receive(raw: unknown): void {
    const parsed = parseWorkerMessage(raw);
    if (!parsed.ok) {
      this.options.log.warn(`worker ${this.pid}: ignored malformed message (${parsed.reason})`);
      return;
    }
    const m = parsed.message;
    const p = this.pending.get(m.id);
    if (!p) {
      this.options.log.debug(`worker ${this.pid}: message for unknown job ${m.id} (${m.kind})`);
      return;
    }
    switch (m.kind) {
      case 'progress':
        p.handlers.onProgress?.(m.progress);
        break;
      case 'log':
        p.handlers.onLog?.(m.level, m.message);
        break;
      case 'result': {
        this.pending.delete(m.id);
        // Data from another process: a result that is not its kind's shape fails the job here,
        // rather than as an odd TypeError wherever a field is first read.
        const mismatch = (this.options.protocol ?? JOB_PROTOCOL).resultMismatch(p.job.kind, m.result);
        if (mismatch === undefined) {
          p.settle({ kind: 'result', result: m.result });
        } else {
          this.options.log.error(`worker ${this.pid}: job ${m.id}: ${mismatch}`);
          p.settle({ kind: 'error', name: 'WorkError', message: `the worker sent a malformed result (${mismatch})` });
        }
        break;
      }
      case 'error':
        this.pending.delete(m.id);
        p.settle({ kind: 'error', name: m.error.name, message: m.error.message });
        break;
    }
  }

  private onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exited = true;
    this.options.log.debug(`worker ${this.pid} exited (${signal ?? `code ${code}`})`);
    for (const p of this.pending.values()) p.settle({ kind: 'exit', code, signal });
    this.pending.clear();
    for (const l of this.exitListeners.splice(0)) l();
  }
}

function forEachLine(chunk: string, fn: (line: string) => void): void {
  for (const line of chunk.split(/\r?\n/)) if (line.trim()) fn(line);
}
