/** Runs of a float model as the extension makes them: quantize, compare on the labelled digits test set (or generated inputs), write the report beside the output. */
import * as path from 'node:path';
import { quantizeFile, type QuantizeOptions } from '../../../src/core/quantize';
import { compareModels } from '../../../src/core/evaluate/compare';
import { buildReport, writeReports } from '../../../src/core/report';
import type { QuantReport } from '../../../src/core/report/types';

export const FIXTURES = path.join(__dirname, '../../fixtures');
export const TEST_X = path.join(FIXTURES, 'digits_test_x.npy');
export const TEST_Y = path.join(FIXTURES, 'digits_test_y.npy');
export const STATIC: QuantizeOptions = { mode: 'static', calibrationData: path.join(FIXTURES, 'digits_calib_x.npy') };

export async function quantizeAndReport(model: string, output: string, options: QuantizeOptions, withData = true): Promise<QuantReport> {
  const q = await quantizeFile(model, output, { ...options, speedCheck: false, force: true });
  const compare = await compareModels(model, output, withData ? { data: TEST_X, labels: TEST_Y, runs: 20, warmup: 2, perLayer: true } : { runs: 20, warmup: 2 });
  const report = buildReport(compare, { quantize: q });
  writeReports(report, output);
  return report;
}
