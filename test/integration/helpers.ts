// Shared helpers for the integration suites (they run inside the extension host).
// Every wait is on an event or a condition and fails with a message naming what it waited for.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';

export const EXTENSION_ID = 'onnx-quantizer.onnx-quantizer';

export function extension(): vscode.Extension<unknown> {
  const ext = vscode.extensions.getExtension(EXTENSION_ID);
  if (!ext) throw new Error(`extension ${EXTENSION_ID} is not loaded (is extensionDevelopmentPath the repo root?)`);
  return ext;
}

/** Activate the extension under test; returns its exports. */
export async function activate(): Promise<unknown> {
  const ext = extension();
  return ext.isActive ? ext.exports : ext.activate();
}

export interface ManifestCommand { command: string; title: string; category?: string }

/** The extension's package.json as loaded by VS Code. */
export function manifest(): {
  contributes?: { commands?: ManifestCommand[]; customEditors?: { viewType: string }[]; menus?: Record<string, { command: string; when?: string }[]> };
  capabilities?: { untrustedWorkspaces?: { supported: boolean | 'limited'; restrictedConfigurations?: string[] } };
} {
  return extension().packageJSON;
}

export function workspaceDir(): string {
  const folder = vscode.workspace.workspaceFolders?.[0];
  if (!folder) throw new Error('no workspace folder is open (the harness opens a copy of test/fixtures)');
  return folder.uri.fsPath;
}

export function workspaceUri(name: string): vscode.Uri {
  const p = path.join(workspaceDir(), name);
  if (!fs.existsSync(p)) throw new Error(`fixture ${name} missing from the test workspace ${workspaceDir()}`);
  return vscode.Uri.file(p);
}

/** A fresh, not yet existing path inside the workspace (in a per-test folder). */
export function scratchPath(name: string): string {
  const dir = fs.mkdtempSync(path.join(workspaceDir(), '.it-'));
  return path.join(dir, name);
}

/** Poll `check` until it returns a truthy value; the timeout error names `what`. */
export async function waitUntil<T>(what: string, check: () => T | Promise<T>, timeoutMs = 20000, intervalMs = 50): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v as NonNullable<T>;
    } catch (e) { last = e; }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/** Resolve with the diagnostics of `uri` once `accept` is true for them (checked now and on every change event). */
export function waitForDiagnostics(
  uri: vscode.Uri,
  accept: (ds: readonly vscode.Diagnostic[]) => boolean,
  what: string,
  timeoutMs = 30000,
): Promise<readonly vscode.Diagnostic[]> {
  return new Promise((resolve, reject) => {
    const key = uri.toString();
    let sub: vscode.Disposable | undefined;
    const timer = setTimeout(() => {
      sub?.dispose();
      const now = vscode.languages.getDiagnostics(uri).map((d) => d.message);
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what} on ${uri.toString()}; current: ${JSON.stringify(now)}`));
    }, timeoutMs);
    const check = (): boolean => {
      const ds = vscode.languages.getDiagnostics(uri);
      if (!accept(ds)) return false;
      clearTimeout(timer);
      sub?.dispose();
      resolve(ds);
      return true;
    };
    if (check()) return;
    sub = vscode.languages.onDidChangeDiagnostics((e) => {
      if (e.uris.some((u) => u.toString() === key)) check();
    });
  });
}

/** Resolve once the active tab satisfies `accept` (checked now and on every tab change). */
export function waitForActiveTab(accept: (tab: vscode.Tab) => boolean, what: string, timeoutMs = 20000): Promise<vscode.Tab> {
  return new Promise((resolve, reject) => {
    let sub: vscode.Disposable | undefined;
    const timer = setTimeout(() => {
      sub?.dispose();
      const label = vscode.window.tabGroups.activeTabGroup.activeTab?.label;
      reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; active tab: ${label ?? 'none'}`));
    }, timeoutMs);
    const check = (): boolean => {
      const tab = vscode.window.tabGroups.activeTabGroup.activeTab;
      if (!tab || !accept(tab)) return false;
      clearTimeout(timer);
      sub?.dispose();
      resolve(tab);
      return true;
    };
    if (check()) return;
    sub = vscode.window.tabGroups.onDidChangeTabs(() => { check(); });
  });
}

export async function closeAllEditors(): Promise<void> {
  await vscode.commands.executeCommand('workbench.action.closeAllEditors');
}

/** Files (relative paths) under `dir`, recursively, sorted. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

/** Debian's python3 (with python3-onnx) even when a pyenv shim comes first on PATH. */
export const PYTHON = fs.existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

/** Operator counts of a model read by the `onnx` Python package: an oracle independent of our parser. */
export function onnxOpCounts(model: string): Record<string, number> {
  const script = [
    'import collections, json, sys, onnx',
    'm = onnx.load(sys.argv[1], load_external_data=False)',
    'print(json.dumps(collections.Counter(n.op_type for n in m.graph.node)))',
  ].join('\n');
  return JSON.parse(execFileSync(PYTHON, ['-c', script, model], { encoding: 'utf8' })) as Record<string, number>;
}

/** Every `.onnx` file under the workspace (absolute paths), the set the explorer must list. */
export function workspaceModels(): string[] {
  return listFiles(workspaceDir()).filter((f) => f.endsWith('.onnx')).map((f) => path.join(workspaceDir(), f));
}

/** Await `thenable` but fail after `timeoutMs` naming `what` (e.g. a command that never returns). */
export async function within<T>(thenable: Thenable<T>, what: string, timeoutMs = 20000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
  });
  try {
    return await Promise.race([Promise.resolve(thenable), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
