/** Finds a Python that has onnx.parser (the oracle for the text renderer) and runs snippets in it. */
import { spawnSync } from 'node:child_process';

let cached: string | null | undefined;

/** A python3 with `import onnx.parser` working, or null (pyenv shims may shadow Debian's python3-onnx). */
export function pythonWithOnnx(): string | null {
  if (cached !== undefined) return cached;
  cached = null;
  for (const exe of ['python3', '/usr/bin/python3']) {
    const r = spawnSync(exe, ['-c', 'import onnx.parser'], { encoding: 'utf8' });
    if (r.status === 0) {
      cached = exe;
      break;
    }
  }
  return cached;
}

export interface ParsedSummary {
  ok: boolean;
  error?: string;
  /** Op types of every node, subgraph nodes included (depth first), as `domain.Op` for non-default domains. */
  ops?: string[];
  inputs?: string[];
  outputs?: string[];
}

const SCRIPT = String.raw`
import sys, json, onnx.parser
try:
    m = onnx.parser.parse_model(sys.stdin.read())
except Exception as e:
    print(json.dumps({"ok": False, "error": str(e)})); sys.exit(0)
ops = []
def walk(g):
    for n in g.node:
        ops.append((n.domain + "." if n.domain else "") + n.op_type)
        for a in n.attribute:
            if a.HasField("g"): walk(a.g)
            for sg in a.graphs: walk(sg)
walk(m.graph)
print(json.dumps({"ok": True, "ops": ops, "inputs": [i.name for i in m.graph.input], "outputs": [o.name for o in m.graph.output]}))
`;

export function parseWithPython(python: string, text: string): ParsedSummary {
  const r = spawnSync(python, ['-c', SCRIPT], { input: text, encoding: 'utf8', maxBuffer: 64 << 20 });
  if (r.status !== 0) throw new Error(`python failed: ${r.stderr}`);
  return JSON.parse(r.stdout) as ParsedSummary;
}
