/** The sweep loop shared by `npm run sweep` and the sample in `npm test`. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { BackendModel } from './backendData';
import type { Outcome, SweepMode } from './outcome';
import { sweepModel } from './sweepModel';
import { convertsOldOpsets, gateFailures, summarize, type Gate, type SweepSummary } from './summary';

export interface SweepRun {
  outcomes: Outcome[];
  summary: SweepSummary;
  gate: Gate;
  failures: Outcome[];
  seconds: number;
}

export async function runSweep(models: BackendModel[], options: { modes?: SweepMode[]; timeoutMs?: number; onProgress?: (done: number, total: number) => void } = {}): Promise<SweepRun> {
  const started = performance.now();
  const modes = options.modes ?? ['dynamic', 'static'];
  const tempDir = fs.mkdtempSync(path.join(os.tmpdir(), 'oq-sweep-'));
  try {
    const gate: Gate = { opset: { dynamic: false, static: false } };
    for (const mode of modes) gate.opset[mode] = await convertsOldOpsets(mode, path.join(tempDir, 'probe'));
    const outcomes: Outcome[] = [];
    for (const [i, model] of models.entries()) {
      outcomes.push(...(await sweepModel(model, { modes, timeoutMs: options.timeoutMs ?? 60_000, tempDir })));
      options.onProgress?.(i + 1, models.length);
    }
    const summary = summarize(outcomes, models.length);
    return { outcomes, summary, gate, failures: gateFailures(outcomes, gate), seconds: (performance.now() - started) / 1000 };
  } finally {
    fs.rmSync(tempDir, { recursive: true, force: true });
  }
}
