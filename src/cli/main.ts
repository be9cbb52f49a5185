/**
 * `onnx-quantizer` command line: inspect | quantize | bench | compare, each with --json.
 * Contract: shared docs cli.md. Exit 0 success, 1 failure of the work, 2 bad usage or input;
 * errors are one line `error: ...` on stderr (stack only with --verbose).
 */
import { asEngineError, exitCodeOf, oneLine } from '../core/errors';
import { processIO, type Command } from './io';
import { commands } from './commands';

const USAGE = `usage: onnx-quantizer <command> [options]

commands:
${commands.map((c) => `  ${c.name.padEnd(9)} ${c.summary}`).join('\n')}

Run 'onnx-quantizer <command> --help' for a command's options. Every command takes --json.`;

export async function main(argv: string[]): Promise<number> {
  const verbose = argv.includes('--verbose');
  const args = argv.filter((a) => a !== '--verbose');
  const [name, ...rest] = args;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    processIO.out(USAGE);
    return name ? 0 : 2;
  }
  if (name === '--version') {
    processIO.out(VERSION);
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.name === name);
  if (!command) {
    processIO.err(`error: unknown command '${name}'\n${USAGE}`);
    return 2;
  }
  if (rest.includes('--help') || rest.includes('-h')) {
    processIO.out(`usage: ${command.usage}`);
    return 0;
  }
  // No SIGINT/SIGTERM listener: a JS handler cannot run while the thread is blocked (a native
  // ONNX Runtime run, a long synchronous pass), and replacing Node's default exit made Ctrl-C
  // do nothing then. Killed at any point, a run leaves no output under its final name (outputs
  // are validated in a staging folder and renamed last, core/onnx/publish.ts), and the next run
  // sweeps the temporaries and output locks of dead processes.
  const controller = new AbortController();
  try {
    return await command.run(rest, processIO, controller.signal);
  } catch (thrown) {
    const err = asEngineError(thrown);
    processIO.err(`error: ${oneLine(err)}`);
    if (verbose && err instanceof Error && err.stack) processIO.err(err.stack);
    return exitCodeOf(err);
  }
}

declare const __VERSION__: string | undefined;
const VERSION = typeof __VERSION__ === 'string' ? __VERSION__ : '0.1.0';

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`error: ${oneLine(err)}\n`);
      process.exitCode = 1;
    },
  );
}
