/** Small commands: reveal, refresh, log, cancel, and the walkthrough's sample model. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { reportError } from '../jobs/jobUi';
import { resolveModel, type Services } from './targets';

/** Files the walkthrough copies into the workspace (shipped in samples/). */
const SAMPLE_FILES = ['digits_mlp.onnx', 'digits_calib_x.npy', 'digits_test_x.npy', 'digits_test_y.npy'];
const SAMPLE_FOLDER = 'onnx-quantizer-sample';

export function registerWorkspaceCommands(services: Services): vscode.Disposable[] {
  const { log } = services;
  return [
    vscode.commands.registerCommand('onnxQuantizer.revealInExplorer', async (arg?: unknown) => {
      const uri = await resolveModel(arg, services, vscode.l10n.t('Reveal in Explorer'));
      if (uri) await vscode.commands.executeCommand('revealInExplorer', uri);
    }),
    vscode.commands.registerCommand('onnxQuantizer.refreshModels', () => services.models.refresh()),
    vscode.commands.registerCommand('onnxQuantizer.showLog', () => log.show(true)),
    vscode.commands.registerCommand('onnxQuantizer.cancelJob', () => {
      const n = services.jobs.cancelAll();
      if (n === 0) void vscode.window.showInformationMessage(vscode.l10n.t('No ONNX Quantizer job is running.'));
      return n;
    }),
    vscode.commands.registerCommand('onnxQuantizer.openSample', async () => {
      try {
        const uri = await copySample(services);
        await vscode.commands.executeCommand('vscode.open', uri);
        return uri;
      } catch (e) {
        reportError(e, log);
        return undefined;
      }
    }),
  ];
}

/**
 * Copy the sample model and its data into the first workspace folder (or, with no folder open,
 * into the extension's storage) so quantized outputs have somewhere to go. Existing copies are kept.
 */
async function copySample(services: Services): Promise<vscode.Uri> {
  const source = services.context.asAbsolutePath('samples');
  const folder = vscode.workspace.workspaceFolders?.find((f) => f.uri.scheme === 'file');
  const base = folder ? folder.uri.fsPath : services.context.globalStorageUri.fsPath;
  const target = path.join(base, SAMPLE_FOLDER);
  await fs.promises.mkdir(target, { recursive: true });
  for (const name of SAMPLE_FILES) {
    const to = path.join(target, name);
    if (!fs.existsSync(to)) await fs.promises.copyFile(path.join(source, name), to);
  }
  services.log.info(`sample model in ${target}`);
  return vscode.Uri.file(path.join(target, SAMPLE_FILES[0] as string));
}
