import type { Command } from '../io';
import { inspectCommand } from './inspect';
import { quantizeCommand } from './quantize';
import { benchCommand } from './bench';
import { compareCommand } from './compare';

/** Subcommands in the order `--help` lists them. Each lives in its own module. */
export const commands: Command[] = [inspectCommand, quantizeCommand, benchCommand, compareCommand];
