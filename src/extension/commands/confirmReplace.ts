/**
 * The one overwrite prompt: a pick whose first, preselected item is Cancel, so Enter or Escape
 * keeps the existing file and replacing it takes a deliberate choice.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { formatBytes } from '../../core/report/format';

/** True when the user chose to replace `file`. */
export async function confirmReplace(file: string, title?: string): Promise<boolean> {
  const name = path.basename(file);
  let detail: string | undefined;
  try {
    const s = fs.statSync(file);
    detail = vscode.l10n.t('{0}, written {1}', formatBytes(s.size), s.mtime.toLocaleString());
  } catch {
    /* gone meanwhile: the write goes ahead as a new file */
  }
  const cancel: vscode.QuickPickItem = { label: vscode.l10n.t('Cancel'), description: vscode.l10n.t('keep the existing {0}', name) };
  const replace: vscode.QuickPickItem = { label: vscode.l10n.t('Replace {0}', name), ...(detail ? { detail } : {}) };
  const pick = await vscode.window.showQuickPick([cancel, replace], {
    title: title ?? vscode.l10n.t('{0} already exists', name),
    placeHolder: vscode.l10n.t('{0} already exists next to the model. Replace it?', name),
    ignoreFocusOut: true,
  });
  return pick === replace;
}
