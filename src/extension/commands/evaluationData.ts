/**
 * The evaluation data of an interactive Compare when none is given or set: the labelled test set
 * beside the float model (NAME_test_x.npy / NAME_test_y.npy, core/data/testData) when there is
 * one, else the user picks a `.npy` file or folder, or chooses random inputs. Random inputs are
 * never used without being chosen: they give fidelity figures but no labelled accuracy.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { testDataBeside } from '../../core/data/testData';
import { browseNpy, npyBrowseItems, type NpyBrowse } from './npyDialog';

export interface EvaluationData {
  /** Undefined: random inputs, as chosen. */
  data?: string;
  labels?: string;
  /** How it was found, for the log. */
  source: 'beside' | 'picked' | 'random';
}

/** `x_test_x.npy` → `x_test_y.npy` when that file exists (the naming of inputs and their labels). */
function labelsFor(data: string): string | undefined {
  if (!/_x\.npy$/i.test(data)) return undefined;
  const labels = data.replace(/_x(\.npy)$/i, '_y$1');
  return fs.existsSync(labels) && fs.statSync(labels).isFile() ? labels : undefined;
}

/** Undefined when the user dismissed the picker. */
export async function chooseEvaluationData(reference: string): Promise<EvaluationData | undefined> {
  const beside = testDataBeside(reference);
  if (beside) return { ...beside, source: 'beside' };
  const dir = path.dirname(reference);
  let npys: string[] = [];
  try {
    npys = (await fs.promises.readdir(dir)).filter((f) => /\.npy$/i.test(f)).sort();
  } catch {
    /* folder not listable: the dialog and random inputs remain */
  }
  // A labels file is not a set of inputs: hide `*_y.npy` whose `*_x.npy` is listed.
  const isLabelsOfListed = (f: string) => /_y\.npy$/i.test(f) && npys.some((o) => o.toLowerCase() === f.toLowerCase().replace(/_y\.npy$/, '_x.npy'));
  type Item = vscode.QuickPickItem & { data?: string; browse?: NpyBrowse; random?: true };
  const items: Item[] = npys
    .filter((f) => !isLabelsOfListed(f))
    .map((f) => {
      const data = path.join(dir, f);
      const labels = labelsFor(data);
      return { label: f, description: labels ? vscode.l10n.t('labels: {0}', path.basename(labels)) : vscode.l10n.t('no labels'), data };
    });
  items.push(
    ...npyBrowseItems(),
    { label: `$(symbol-misc) ${vscode.l10n.t('Random inputs')}`, detail: vscode.l10n.t('Fidelity against the float model only: labelled accuracy needs test data and labels'), random: true },
  );
  const stem = path.basename(reference).replace(/\.onnx$/i, '');
  const pick = await vscode.window.showQuickPick(items, {
    title: vscode.l10n.t('Compare {0}: evaluation data', path.basename(reference)),
    placeHolder: vscode.l10n.t('No test set beside the model ({0}_test_x.npy with _test_y.npy): choose the inputs (first axis = samples)', stem),
    ignoreFocusOut: true,
  });
  if (!pick) return undefined;
  if (pick.random) return { source: 'random' };
  const data = pick.data ?? (pick.browse ? await browseNpy(pick.browse, dir, vscode.l10n.t('Evaluation data')) : undefined);
  if (!data) return undefined;
  const labels = labelsFor(data);
  return labels ? { data, labels, source: 'picked' } : { data, source: 'picked' };
}
