#!/usr/bin/env node
// `npm run package [-- --target linux-x64] [-o FILE]`: a platform-specific VSIX, as the Marketplace
// serves them. The bundles are built minified without source maps; node_modules is left to vsce,
// filtered by .vscodeignore down to onnxruntime-node (external to the bundles: native module) and
// its onnxruntime-common; this script adds the one platform's native binaries (each platform's
// folder is 25-86 MB, all five together 290 MB).
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = 'node_modules/onnxruntime-node/bin/napi-v6';
const PLATFORMS = ['win32/x64', 'win32/arm64', 'linux/x64', 'linux/arm64', 'darwin/arm64'];

export function hostTarget() {
  return `${process.platform}-${process.arch}`;
}

/** Package into `out` for `target` (vsce form: linux-x64, win32-arm64, ...); returns the path. */
export function packageVsix({ target = hostTarget(), out, build = true } = {}) {
  const binary = target.replace('-', '/');
  if (!PLATFORMS.includes(binary)) throw new Error(`no onnxruntime-node binary for ${target}; targets: ${PLATFORMS.map((p) => p.replace('/', '-')).join(', ')}`);
  if (build) {
    const b = spawnSync(process.execPath, ['scripts/esbuild.mjs', '--production'], { cwd: ROOT, stdio: 'inherit' });
    if (b.status !== 0) throw new Error('build failed');
  }
  const ignoreFile = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'onnxq-pack-')), '.vscodeignore');
  const base = fs.readFileSync(path.join(ROOT, '.vscodeignore'), 'utf8');
  fs.writeFileSync(ignoreFile, `${base.trimEnd()}\n!${BIN}/${binary}/**\n`);
  const output = path.resolve(out ?? path.join(ROOT, `onnx-quantizer-${target}.vsix`));
  const vsce = path.join(ROOT, 'node_modules', '.bin', 'vsce');
  // The README's screenshots ship in the VSIX and its relative links stay relative (the project
  // has no public repository URL for vsce to rewrite them against).
  const r = spawnSync(vsce, ['package', '--target', target, '--ignoreFile', ignoreFile, '--no-rewrite-relative-links', '-o', output], { cwd: ROOT, encoding: 'utf8' });
  fs.rmSync(path.dirname(ignoreFile), { recursive: true, force: true });
  if (r.status !== 0) throw new Error(`vsce package failed: ${(r.stderr || r.stdout).trim()}`);
  return output;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const opt = (name) => {
    const i = args.indexOf(name);
    return i >= 0 ? args[i + 1] : undefined;
  };
  try {
    const file = packageVsix({ target: opt('--target'), out: opt('-o') });
    console.log(`${path.relative(process.cwd(), file)} (${(fs.statSync(file).size / 1e6).toFixed(1)} MB)`);
  } catch (e) {
    console.error(`error: ${e.message}`);
    process.exitCode = 1;
  }
}
