/**
 * The test-only jobs (src/shared/testJobs.ts), run only when ONNX_QUANTIZER_TEST_HOOKS=1: a
 * native-style crash and a job that ignores cancellation, to exercise the host's recovery.
 */
import type { CrashJob, StallJob, TestJobRequest } from '../../shared/testJobs';

export function runTestJob(job: TestJobRequest): Promise<unknown> {
  return job.kind === 'crash' ? crash(job) : stall(job);
}

export function crash(job: CrashJob): Promise<never> {
  // Let the 'log'/'progress' messages already queued reach the host first.
  return new Promise<never>(() => {
    setTimeout(() => {
      if (job.how === 'exit') process.exit(3);
      process.abort();
    }, 20);
  });
}

/** Blocks the event loop (as a long native call would), so the abort message is never read. */
export async function stall(job: StallJob): Promise<{ ms: number }> {
  await new Promise((r) => setTimeout(r, 20));
  const end = Date.now() + job.ms;
  while (Date.now() < end) {
    /* busy: simulates a native call that does not return */
  }
  return { ms: job.ms };
}
