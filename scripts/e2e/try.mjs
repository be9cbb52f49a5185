#!/usr/bin/env node
// `npm run try`: the extension in a real VS Code (code-server on 127.0.0.1) with a samples folder,
// for a quick manual look from a browser. Ctrl-C stops code-server and its whole process group.
// Opens a throwaway copy of ./samples (else of test/fixtures), removed on exit.
// Env: PORT (default: a free port), CS_* as for the installer.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, ensureCodeServer, buildExtension, makeRunDir, startCodeServer, workbenchUrl, devExtensionPayload } from './lib.mjs';

ensureCodeServer();
buildExtension();
const { dir, workspace } = makeRunDir('try');
// A throwaway copy: quantized models and reports land next to the models, not in the repo.
const samples = path.join(ROOT, 'samples');
if (fs.existsSync(samples)) {
  fs.rmSync(workspace, { recursive: true, force: true });
  fs.cpSync(samples, workspace, { recursive: true, filter: (src) => !/[\\/]out$/.test(src) });
}
const folder = workspace;
const server = await startCodeServer({ dir, folder, port: process.env.PORT ? Number(process.env.PORT) : undefined });
const url = workbenchUrl(server, folder, devExtensionPayload(server));
console.log(`\nONNX Quantizer in code-server ${server.url} (folder ${folder})\nOpen this URL (it loads the extension from ${ROOT}):\n\n  ${url}\n\nCtrl-C to stop.`);

// Ctrl-C: lib.mjs stops code-server (and its whole process group); then remove the run dir.
process.on('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
