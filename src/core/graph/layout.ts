/**
 * Top-to-bottom layout of a graph view (runs in the worker, never on the extension host).
 *
 * Graphs up to DAGRE_LIMIT nodes are laid out by dagre (network-simplex ranking, crossing
 * reduction, routed edges). Above that dagre is too slow for the first-paint targets (about
 * 1.3 ms a node on a 2-core machine: 0.7 s at 500 nodes, 2 s at 1,500, whatever the ranker) and
 * its recursive ranking overflows the stack on long chains, so larger graphs get a linear-time
 * layered layout: longest-path ranks, two barycentre sweeps to order each rank, packed x
 * positions near the parents' centre, straight edges.
 */
import { graphlib, layout as dagreLayout } from '@dagrejs/dagre';
import type { GraphDto } from './types';

export const DAGRE_LIMIT = 200;
const NODE_SEP = 24;
const RANK_SEP = 36;
const MARGIN = 20;

/** Sets every node's centre and every edge's route, and the graph's size; returns the graph. */
export function layoutGraph(graph: GraphDto): GraphDto {
  const started = performance.now();
  if (graph.nodes.length <= DAGRE_LIMIT) {
    layoutWithDagre(graph);
    graph.layoutEngine = 'dagre';
  } else {
    layoutLayered(graph);
    graph.layoutEngine = 'layered';
  }
  graph.layoutMs = performance.now() - started;
  return graph;
}

function layoutWithDagre(graph: GraphDto): void {
  const g = new graphlib.Graph({ multigraph: false });
  g.setGraph({ rankdir: 'TB', nodesep: NODE_SEP, ranksep: RANK_SEP, marginx: MARGIN, marginy: MARGIN });
  g.setDefaultEdgeLabel(() => ({}));
  graph.nodes.forEach((n, i) => g.setNode(String(i), { width: n.width, height: n.height }));
  for (const e of graph.edges) if (e.from !== e.to) g.setEdge(String(e.from), String(e.to));
  dagreLayout(g);
  graph.nodes.forEach((n, i) => {
    const p = g.node(String(i));
    n.x = p.x;
    n.y = p.y;
  });
  for (const e of graph.edges) {
    const label = g.edge(String(e.from), String(e.to)) as { points?: { x: number; y: number }[] } | undefined;
    e.points = (label?.points ?? []).flatMap((p) => [p.x, p.y]);
  }
  const size = g.graph();
  graph.width = size.width ?? 0;
  graph.height = size.height ?? 0;
}

function layoutLayered(graph: GraphDto): void {
  const n = graph.nodes.length;
  const preds: number[][] = Array.from({ length: n }, () => []);
  const succs: number[][] = Array.from({ length: n }, () => []);
  const indegree = new Int32Array(n);
  for (const e of graph.edges) {
    if (e.from === e.to) continue;
    preds[e.to]?.push(e.from);
    succs[e.from]?.push(e.to);
    indegree[e.to] = (indegree[e.to] ?? 0) + 1;
  }
  // Longest-path ranks in topological order (Kahn); nodes on a cycle (invalid graphs) go last.
  const rank = new Int32Array(n);
  const queue: number[] = [];
  for (let i = 0; i < n; i++) if (indegree[i] === 0) queue.push(i);
  const seen = new Uint8Array(n);
  for (let head = 0; head < queue.length; head++) {
    const v = queue[head] ?? 0;
    seen[v] = 1;
    for (const w of succs[v] ?? []) {
      rank[w] = Math.max(rank[w] ?? 0, (rank[v] ?? 0) + 1);
      indegree[w] = (indegree[w] ?? 0) - 1;
      if (indegree[w] === 0) queue.push(w);
    }
  }
  let maxRank = 0;
  for (let i = 0; i < n; i++) maxRank = Math.max(maxRank, rank[i] ?? 0);
  for (let i = 0; i < n; i++) if (!seen[i]) rank[i] = ++maxRank;

  const ranks: number[][] = Array.from({ length: maxRank + 1 }, () => []);
  for (let i = 0; i < n; i++) ranks[rank[i] ?? 0]?.push(i);
  const order = new Float64Array(n);
  const renumber = (r: number[]): void => r.forEach((v, i) => (order[v] = i));
  ranks.forEach(renumber);
  const sweep = (rs: number[][], neighbours: number[][]): void => {
    for (const r of rs) {
      const key = new Map<number, number>();
      for (const v of r) {
        const ns = neighbours[v] ?? [];
        key.set(v, ns.length ? ns.reduce((s, u) => s + (order[u] ?? 0), 0) / ns.length : (order[v] ?? 0));
      }
      r.sort((a, b) => (key.get(a) ?? 0) - (key.get(b) ?? 0));
      renumber(r);
    }
  };
  sweep(ranks, preds);
  sweep([...ranks].reverse(), succs);
  sweep(ranks, preds);

  // x: each node as near its parents' mean centre as the rank's packing allows.
  let width = 0;
  let y = MARGIN;
  for (const r of ranks) {
    let right = MARGIN;
    let height = 0;
    for (const v of r) {
      const node = graph.nodes[v];
      if (!node) continue;
      const ps = preds[v] ?? [];
      const wanted = ps.length ? ps.reduce((s, u) => s + (graph.nodes[u]?.x ?? 0), 0) / ps.length : right + node.width / 2;
      node.x = Math.max(wanted, right + node.width / 2);
      right = node.x + node.width / 2 + NODE_SEP;
      height = Math.max(height, node.height);
    }
    for (const v of r) {
      const node = graph.nodes[v];
      if (node) node.y = y + height / 2;
    }
    width = Math.max(width, right);
    y += height + RANK_SEP;
  }
  for (const e of graph.edges) {
    const a = graph.nodes[e.from];
    const b = graph.nodes[e.to];
    e.points = a && b ? [a.x, a.y + a.height / 2, b.x, b.y - b.height / 2] : [];
  }
  graph.width = width + MARGIN;
  graph.height = y - RANK_SEP + MARGIN;
}
