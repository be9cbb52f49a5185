/** Progress reported by long engine jobs; the worker forwards it to the extension, the CLI to stderr. */
export interface Progress {
  /** Short stage name: 'loading', 'calibrating', 'quantizing', 'validating', 'benchmarking', ... */
  stage: string;
  /** 0..1 within the whole job when known. */
  fraction?: number;
  message?: string;
}

export type ProgressSink = (p: Progress) => void;

/** What every long engine call takes: cancellation and progress, both optional. */
export interface JobContext {
  signal?: AbortSignal | undefined;
  onProgress?: ProgressSink | undefined;
  /** Log lines (debug detail); the worker routes them to the LogOutputChannel. */
  log?: ((line: string) => void) | undefined;
}
