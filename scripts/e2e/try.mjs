#!/usr/bin/env node
// `npm run try`: the extension in a real VS Code (code-server on 127.0.0.1) with a samples folder,
// for a quick manual look from a browser. Ctrl-C stops code-server and its whole process group.
// Opens ./samples if the repo has one, else a throwaway copy of test/fixtures.
// Env: PORT (default: a free port), CS_* as for the installer.
import fs from 'node:fs';
import path from 'node:path';
import { ROOT, log, ensureCodeServer, buildExtension, makeRunDir, startCodeServer, workbenchUrl, devExtensionPayload } from './lib.mjs';

ensureCodeServer();
buildExtension();
const { dir, workspace: copy } = makeRunDir('try');
const samples = path.join(ROOT, 'samples');
const folder = fs.existsSync(samples) ? samples : copy;
const server = await startCodeServer({ dir, folder, port: process.env.PORT ? Number(process.env.PORT) : undefined });
const url = workbenchUrl(server, folder, devExtensionPayload(server));
console.log(`\nONNX Quantizer in code-server ${server.url} (folder ${folder})\nOpen this URL (it loads the extension from ${ROOT}):\n\n  ${url}\n\nCtrl-C to stop.`);

let stopping = false;
async function shutdown(signal) {
  if (stopping) return;
  stopping = true;
  log(`${signal}: stopping code-server`);
  await server.stop();
  fs.rmSync(dir, { recursive: true, force: true });
  process.exit(0);
}
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));
