import { loadModel } from '../../core/onnx/model';
import { InputError } from '../../core/errors';
import { parseCommandArgs, type Command } from '../io';

// Placeholder until the analysis module lands: loads the model (all input checks apply).
export const inspectCommand: Command = {
  name: 'inspect',
  summary: 'summarise a model: inputs/outputs, opsets, operators, parameters, quantization',
  usage: 'onnx-quantizer inspect MODEL [--json]',
  async run(argv, io) {
    const { positionals, values } = parseCommandArgs(argv, { json: { type: 'boolean' } }, this.usage);
    const file = positionals[0];
    if (!file || positionals.length > 1) throw new InputError(`expected one MODEL\nusage: ${this.usage}`);
    const model = loadModel(file);
    const summary = { nodeCount: model.proto.graph?.node.length ?? 0 };
    io.out(values.json ? JSON.stringify(summary) : `nodes: ${summary.nodeCount}`);
    return 0;
  },
};
