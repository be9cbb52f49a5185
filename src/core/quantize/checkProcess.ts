/**
 * Child process entry (dist/check.js): reads a CheckRequest as JSON on stdin, runs the checks
 * after quantization (check.ts) and writes the CheckOutcome as JSON on stdout.
 */
import { highWaterMark } from '../util/memory';
import { runChecks, type CheckRequest } from './check';

// A parent killed outright (SIGKILL, OOM) cannot stop its child: the checks end when it is gone,
// instead of running on (and reading the staging folder the next run sweeps) as an orphan.
const parent = process.ppid;
setInterval(() => {
  if (process.ppid !== parent) process.exit(1);
}, 250).unref();

async function main(): Promise<void> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const req = JSON.parse(Buffer.concat(chunks).toString('utf8')) as CheckRequest;
  const outcome = await runChecks(req);
  const peak = highWaterMark();
  process.stdout.write(JSON.stringify(peak === undefined ? outcome : { ...outcome, peakRssBytes: peak }));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
  process.exitCode = 1;
});
