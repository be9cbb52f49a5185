/**
 * The two quick-pick rows that browse for `.npy` data (one file, or a folder of INPUTNAME.npy
 * files) and the dialog they open: calibration data and evaluation data are chosen the same way.
 */
import * as vscode from 'vscode';

export type NpyBrowse = 'file' | 'folder';

export function npyBrowseItems(): (vscode.QuickPickItem & { browse: NpyBrowse })[] {
  return [
    { label: `$(file) ${vscode.l10n.t('Choose a .npy file…')}`, browse: 'file' },
    { label: `$(folder) ${vscode.l10n.t('Choose a folder of INPUTNAME.npy files…')}`, browse: 'folder' },
  ];
}

/** The chosen file or folder, starting in `dir`; undefined when the dialog was dismissed. */
export async function browseNpy(browse: NpyBrowse, dir: string, title: string): Promise<string | undefined> {
  const chosen = await vscode.window.showOpenDialog({
    canSelectFiles: browse === 'file',
    canSelectFolders: browse === 'folder',
    canSelectMany: false,
    defaultUri: vscode.Uri.file(dir),
    filters: browse === 'file' ? { NumPy: ['npy'] } : undefined,
    title,
  } as vscode.OpenDialogOptions);
  return chosen?.[0]?.fsPath;
}
