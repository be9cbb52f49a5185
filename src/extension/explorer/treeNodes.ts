/**
 * The explorer's node types and how a ModelOverview (computed by the worker) becomes groups
 * and rows. Pure data: no vscode import, so the same shapes serve the test API as JSON.
 */
import { formatBytes } from '../../core/report/format';
import type { ModelOverview } from '../../shared/protocol';

export type GroupKind = 'inputs' | 'outputs' | 'operators' | 'initializers' | 'quantization' | 'derived';

/** A row under a group: what TreeItem needs, as plain data. */
export interface Row {
  label: string;
  description?: string;
  tooltip?: string;
  /** Codicon id. */
  icon?: string;
  contextValue?: string;
  /** Rows shown when this row expands (the layers of an operator type). */
  children?: Row[];
  /** A quantizable layer: the row gets an include/exclude checkbox for this node name. */
  layer?: string;
  /** The modes that quantize that layer (a mode outside them leaves it float: no checkbox then). */
  layerModes?: string[];
}

export interface GroupSpec {
  group: GroupKind;
  label: string;
  description?: string;
  rows: Row[];
}

const shapeText = (shape: (number | string)[]): string => `[${shape.join(', ')}]`;

/** Groups for one model, in display order (derived files are added by the provider). */
export function overviewGroups(o: ModelOverview): GroupSpec[] {
  const quantizableOps = o.operators.filter((g) => g.quantizable > 0);
  const quantizableNodes = quantizableOps.reduce((s, g) => s + g.quantizable, 0);
  return [
    {
      group: 'inputs',
      label: 'Inputs',
      description: String(o.inputs.length),
      rows: o.inputs.map((t) => ({ label: t.name, description: `${t.dtype} ${shapeText(t.shape)}`, icon: 'arrow-right', contextValue: 'tensor' })),
    },
    {
      group: 'outputs',
      label: 'Outputs',
      description: String(o.outputs.length),
      rows: o.outputs.map((t) => ({ label: t.name, description: `${t.dtype} ${shapeText(t.shape)}`, icon: 'arrow-left', contextValue: 'tensor' })),
    },
    {
      group: 'operators',
      label: 'Operators',
      description: `${o.nodeCount} nodes, ${quantizableNodes} quantizable`,
      rows: [...o.operators]
        .sort((a, b) => b.count - a.count || a.opType.localeCompare(b.opType))
        .map((g) => {
          const row: Row = {
            label: g.opType,
            description: g.quantizable > 0 ? `×${g.count} · quantizable (${g.modes.join(', ')})` : `×${g.count}`,
            icon: g.quantizable > 0 ? 'pass' : 'circle-outline',
            contextValue: g.quantizable > 0 ? 'operator.quantizable' : 'operator',
          };
          if (g.quantizable > 0 && g.quantizable < g.count) row.tooltip = `${g.quantizable} of ${g.count} ${g.opType} nodes can be quantized`;
          const layers = layerRows(o, g.opType);
          if (layers.length) row.children = layers;
          return row;
        }),
    },
    {
      group: 'initializers',
      label: 'Largest initializers',
      description: `${o.parameterCount.toLocaleString('en-US')} parameters`,
      rows: o.largestInitializers.map((t) => ({
        label: t.name,
        description: `${t.dtype} ${shapeText(t.shape)} · ${formatBytes(t.bytes)}`,
        icon: 'symbol-array',
        contextValue: 'initializer',
      })),
    },
    {
      group: 'quantization',
      label: 'Quantization',
      description: o.quantization.format,
      rows: [
        { label: 'Format', description: o.quantization.format, icon: 'symbol-enum', contextValue: 'quantization' },
        { label: 'Quantized nodes', description: String(o.quantization.quantizedNodeCount), icon: 'symbol-number', contextValue: 'quantization' },
        ...o.quantization.details.map((d) => ({ label: d, icon: 'info', contextValue: 'quantization' })),
      ],
    },
  ];
}

/** The node's key on the first tooltip line (the label may differ: duplicate or empty names). */
function keyLine(l: ModelOverview['layers'][number]): string {
  return l.label === l.node ? `${l.node}\n` : `${l.label}\nkey: ${l.node}\n`;
}

/** The quantizable layers of one operator type (opCounts spell contrib ops `domain.Op`). */
function layerRows(o: ModelOverview, opKey: string): Row[] {
  const opType = opKey.includes('.') ? opKey.slice(opKey.lastIndexOf('.') + 1) : opKey;
  return o.layers
    .filter((l) => l.opType === opType && l.modes.length > 0)
    .map((l) => {
      const row: Row = {
        label: l.label,
        description: [l.weightBytes ? formatBytes(l.weightBytes) : '', l.modes.join(', ')].filter(Boolean).join(' · '),
        contextValue: 'layer',
        layer: l.node,
        layerModes: l.modes,
      };
      if (l.notes.length) {
        row.icon = 'warning';
        row.tooltip = `${keyLine(l)}${l.notes.join('\n')}\nUntick to keep this layer in float when quantizing.`;
      } else {
        row.tooltip = `${keyLine(l)}Untick to keep this layer in float when quantizing.`;
      }
      return row;
    });
}
