// `npm start`: the main job on a bundled sample model (inspect for now; the full quantize-and-compare flow later).
import { spawnSync } from 'node:child_process';
const r = spawnSync(process.execPath, ['dist/cli.js', 'inspect', 'test/fixtures/digits_cnn.onnx'], { stdio: 'inherit' });
process.exit(r.status ?? 1);
