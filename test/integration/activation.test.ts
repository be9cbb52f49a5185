// Activation is light: on a workspace with .onnx models the extension activates without forking
// the language server; the first text view (or recipe, or model editor) starts it. Runs first, so
// nothing else has asked for the server yet.
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as vscode from 'vscode';
import { activate, closeAllEditors, extension, waitUntil, workspaceModels } from './helpers';
import { showAsText } from './textView';

/** Processes below this extension host whose command line runs the extension's dist/server.js. */
function languageServerProcesses(): number[] {
  const server = path.join(extension().extensionPath, 'dist', 'server.js');
  const parentOf = new Map<number, number>();
  const servers: number[] = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // Fields after the command name in parentheses: state, ppid, ...
      const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
      parentOf.set(Number(entry), Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (fs.readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0').includes(server)) servers.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  const below = (pid: number): boolean => {
    for (let p = parentOf.get(pid); p !== undefined && p > 1; p = parentOf.get(p)) if (p === process.pid) return true;
    return false;
  };
  return servers.filter(below);
}

suite('activation: the language server starts on first need', () => {
  suiteSetup(function () {
    if (process.platform !== 'linux') this.skip();
  });

  test('activating on a workspace with .onnx models starts no language server', async () => {
    assert.ok(workspaceModels().length > 0, 'the test workspace has .onnx models');
    await activate();
    assert.ok(extension().isActive);
    // Give an eager start the time it would need to show up.
    await new Promise((r) => setTimeout(r, 2000));
    assert.deepEqual(languageServerProcesses(), [], 'a language server process runs although nothing needed it');
  });

  test('the first text view starts it', async () => {
    const doc = await showAsText('digits_mlp.onnx');
    assert.match(doc.getText(), /MatMul|Gemm/, 'the server rendered the model');
    const pids = await waitUntil('a language server process below the extension host', () => {
      const p = languageServerProcesses();
      return p.length > 0 ? p : undefined;
    });
    assert.equal(pids.length, 1, `one server, not ${pids.length}`);
    await closeAllEditors();
  });
});
