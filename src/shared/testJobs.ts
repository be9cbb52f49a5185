/**
 * The job protocol's test-only extension: a job that crashes the worker and one that stalls it,
 * to test the host's crash recovery and its kill after the cancel grace period. Nothing in the
 * production protocol (protocol.ts) knows them: the worker accepts them only with
 * ONNX_QUANTIZER_TEST_HOOKS=1 (src/worker/worker.ts), and a host that sends them (the worker's unit
 * tests) runs its JobRunner with TEST_JOB_PROTOCOL.
 */
import { JOB_PROTOCOL, PROTOCOL_VERSION, type JobProtocol, type JobRequest, type JobResults } from './protocol';
import { isCount, isObj } from './webviewMessages';

export interface CrashJob {
  /** 'abort': process.abort() as native code would; 'exit': process.exit(3). */
  kind: 'crash';
  how?: 'abort' | 'exit';
}
export interface StallJob {
  /** Busy-loops for `ms` ignoring cancellation: checks the host's kill-after-timeout path. */
  kind: 'stall';
  ms: number;
}
export type TestJobRequest = CrashJob | StallJob;
export type TestJobKind = TestJobRequest['kind'];
export interface TestJobResults {
  crash: never;
  stall: { ms: number };
}

/** Every job a test host may send, and their results. */
export type AnyJobRequest = JobRequest | TestJobRequest;
export type AnyJobResults = JobResults & TestJobResults;

const TEST_JOB_KINDS: readonly string[] = ['crash', 'stall'] satisfies TestJobKind[];
const isTestKind = (kind: string): kind is TestJobKind => TEST_JOB_KINDS.includes(kind);

/** Why a test job is malformed, or undefined. */
export function validateTestJob(job: TestJobRequest | Record<string, unknown>): string | undefined {
  switch (job.kind) {
    case 'crash':
      return job.how === undefined || job.how === 'abort' || job.how === 'exit' ? undefined : 'crash how must be abort or exit';
    case 'stall':
      return isCount(job.ms, 1e7) ? undefined : 'stall needs ms';
    default:
      return `unknown test job kind ${JSON.stringify(job.kind)}`;
  }
}

/**
 * A `start` of a test job: the job, or why it is malformed; undefined for every other message
 * (parseHostMessage's to judge).
 */
export function parseTestStart(x: unknown): { ok: true; id: number; job: TestJobRequest } | { ok: false; id: number; reason: string } | undefined {
  if (!isObj(x) || x.v !== PROTOCOL_VERSION || x.kind !== 'start' || !isCount(x.id) || !isObj(x.job) || typeof x.job.kind !== 'string' || !isTestKind(x.job.kind)) return undefined;
  const reason = validateTestJob(x.job);
  return reason === undefined ? { ok: true, id: x.id, job: x.job as unknown as TestJobRequest } : { ok: false, id: x.id, reason };
}

export const TEST_JOB_PROTOCOL: JobProtocol = {
  describe: (job) => (job.kind === 'crash' ? 'Crash (test)' : job.kind === 'stall' ? 'Stall (test)' : JOB_PROTOCOL.describe(job)),
  resultMismatch(kind, result) {
    if (kind === 'crash') return 'crash result: a crash job has no result';
    if (kind === 'stall') return isObj(result) && isCount(result.ms, 1e7) ? undefined : 'stall result: ms is not as expected';
    return JOB_PROTOCOL.resultMismatch(kind, result);
  },
};
