/**
 * `npm run bench`: runs every `bench/*.bench.ts` (each exports `run(): Promise<void>` and prints
 * its figures). Pass names to run a subset: `npm run bench -- inspect quantize`.
 * Each benchmark runs in its own child process so peak-memory figures are not polluted by the others.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';

const only = process.argv.slice(2).filter((a) => !a.startsWith('-'));
const child = process.env.BENCH_CHILD;

async function runOne(file: string): Promise<void> {
  const mod = (await import(file)) as { run?: () => Promise<void> };
  if (typeof mod.run !== 'function') throw new Error(`${file} exports no run()`);
  await mod.run();
}

async function main(): Promise<void> {
  if (child) {
    await runOne(child);
    return;
  }
  const dir = __dirname;
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .filter((f) => only.length === 0 || only.some((o) => f.startsWith(o)))
    .sort();
  let failed = 0;
  for (const f of files) {
    const started = Date.now();
    console.log(`\n=== ${f.replace('.bench.ts', '')} ===`);
    const r = spawnSync(process.execPath, ['--expose-gc', '--import', 'tsx', __filename], {
      stdio: 'inherit',
      env: { ...process.env, BENCH_CHILD: path.join(dir, f) },
    });
    if (r.status !== 0) {
      failed++;
      console.log(`!!! ${f} failed (exit ${r.status ?? r.signal})`);
    }
    console.log(`(${((Date.now() - started) / 1000).toFixed(1)} s)`);
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exitCode = 1;
});
