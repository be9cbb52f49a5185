/** Where a measurement was taken: runtime and CPU facts that decide int8 speed. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import { ortVersion } from '../runtime/ort';
import type { EnvironmentInfo } from './types';

export function environmentInfo(threads: number): EnvironmentInfo {
  const cpuinfo = readCpuinfo();
  const flags = new Set((/^flags\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? '').split(/\s+/));
  const cpuModel = /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1]?.trim() ?? os.cpus()[0]?.model ?? 'unknown';
  return {
    ortVersion: ortVersion(),
    nodeVersion: process.version,
    platform: process.platform,
    arch: process.arch,
    cpuModel,
    logicalCpus: os.cpus().length,
    cpuFlags: {
      avx2: flags.has('avx2'),
      avx512f: flags.has('avx512f'),
      avx512vnni: flags.has('avx512_vnni'),
      avxvnni: flags.has('avx_vnni'),
      amx: flags.has('amx_int8'),
    },
    threads,
  };
}

/** `AVX2, no AVX-512 VNNI, no AVX-VNNI`: the detected CPU facts that decide int8 speed. */
export function cpuFlagsText(e: EnvironmentInfo = environmentInfo(0)): string {
  const f = e.cpuFlags;
  const has = (on: boolean, name: string) => (on ? name : `no ${name}`);
  return [has(f.avx2, 'AVX2'), has(f.avx512vnni, 'AVX-512 VNNI'), has(f.avxvnni, 'AVX-VNNI')].join(', ');
}

function readCpuinfo(): string {
  try {
    return fs.readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return '';
  }
}
