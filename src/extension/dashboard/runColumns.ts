/**
 * A float model's run history (core/report/runs.ts) as the dashboard's columns: the float model,
 * then one column per run, oldest first, each with its number, the layers it kept float, its
 * delta against the run before and which of its layers could still be kept float. No `vscode` import.
 */
import { excludable, runsOf, type Run, type RunSource } from '../../core/report/runs';
import type { DashboardDto, RunColumnDto } from '../../shared/webviewMessages';
import { baseName, toDashboard } from './reportAdapter';

type Obj = Record<string, unknown>;

export interface RunsView {
  dto: DashboardDto;
  /** The report behind each candidate column, in column order (column 1 is reports[0]). */
  reports: Obj[];
  runs: Run[];
}

function runColumn(run: Run): RunColumnDto {
  const d = run.delta;
  return {
    number: run.number,
    excluded: run.excluded,
    modelExists: run.modelExists,
    delta: d ? { ...d, against: run.number - 1 } : null,
  };
}

/** The dashboard of `floatModel`'s runs from these reports (one run per quantized model, the newest report of it). */
export function runsView(floatModel: string, sources: readonly RunSource[]): RunsView {
  const history = runsOf(floatModel, sources);
  const bySource = new Map<string, Obj>();
  for (const s of sources) bySource.set(s.reportFile || String((s.report as Obj).candidate), s.report as Obj);
  const reports = history.runs.map((r) => ({ ...(bySource.get(r.reportFile || r.model) ?? {}), reference: floatModel, candidate: r.model }));
  const dto = toDashboard(reports);
  dto.title = `Runs: ${baseName(floatModel)}`;
  dto.models.forEach((column, i) => {
    const run = history.runs[i - 1];
    if (!run) return;
    column.label = `Run ${run.number}: ${column.label}`;
    column.run = runColumn(run);
    for (const layer of column.layers) {
      layer.excluded = run.excluded.includes(layer.node);
      layer.excludable = run.modelExists && excludable(run, layer);
    }
  });
  // One run's options stay readable below the table; several runs show theirs in the columns.
  return { dto, reports, runs: history.runs };
}
