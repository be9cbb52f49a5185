/**
 * User-started jobs: a cancellable progress notification with the stage text, a status bar
 * item while anything runs, every job in the log, and errors as a notification with "Show Log".
 */
import * as vscode from 'vscode';
import { CancelledError } from '../../core/errors';
import type { Progress } from '../../core/progress';
import { describeJob, type JobRequest, type JobResult } from '../../shared/protocol';
import type { JobRunner } from './jobRunner';

const SHOW_LOG = 'onnxQuantizer.showLog';
const RUNNING_KEY = 'onnxQuantizer:jobRunning';

export class JobUi implements vscode.Disposable {
  private readonly status: vscode.StatusBarItem;
  private readonly active = new Map<AbortController, string>();

  constructor(
    private readonly runner: JobRunner,
    private readonly log: vscode.LogOutputChannel,
    private readonly timeoutMs: () => number,
  ) {
    this.status = vscode.window.createStatusBarItem('onnxQuantizer.job', vscode.StatusBarAlignment.Left, 10);
    this.status.name = vscode.l10n.t('ONNX Quantizer Job');
    this.status.command = SHOW_LOG;
  }

  get runningJobs(): string[] {
    return [...this.active.values()];
  }

  /** Run a job with progress UI. Throws CancelledError when the user cancels, or the job's error. */
  async run<J extends JobRequest>(job: J): Promise<JobResult<J['kind']>> {
    const label = describeJob(job);
    const controller = new AbortController();
    this.active.set(controller, label);
    this.updateStatus();
    try {
      return await vscode.window.withProgress(
        { location: vscode.ProgressLocation.Notification, title: label, cancellable: true },
        async (progress, token) => {
          const onCancel = token.onCancellationRequested(() => controller.abort());
          let reported = 0;
          const onProgress = (p: Progress): void => {
            const update: { message: string; increment?: number } = { message: stageText(p) };
            if (p.fraction !== undefined) {
              const pct = Math.round(p.fraction * 100);
              if (pct > reported) {
                update.increment = pct - reported;
                reported = pct;
              }
            }
            progress.report(update);
          };
          const onLog = (level: string, message: string): void => {
            const write = level === 'error' ? this.log.error : level === 'warn' ? this.log.warn : level === 'info' ? this.log.info : this.log.debug;
            write.call(this.log, `  ${message}`);
          };
          try {
            return await this.runner.run(job, { signal: controller.signal, onProgress, onLog, timeoutMs: this.timeoutMs() });
          } finally {
            onCancel.dispose();
          }
        },
      );
    } finally {
      this.active.delete(controller);
      this.updateStatus();
    }
  }

  /** Cancel every running user job; returns how many were asked to stop. */
  cancelAll(): number {
    for (const c of this.active.keys()) c.abort();
    return this.active.size;
  }

  dispose(): void {
    this.cancelAll();
    this.status.dispose();
  }

  private updateStatus(): void {
    const labels = [...this.active.values()];
    void vscode.commands.executeCommand('setContext', RUNNING_KEY, labels.length > 0);
    if (labels.length === 0) {
      this.status.hide();
      return;
    }
    const more = labels.length > 1 ? ` (+${labels.length - 1})` : '';
    this.status.text = `$(loading~spin) ${labels[labels.length - 1]}…${more}`;
    this.status.tooltip = vscode.l10n.t('{0}. Click to show the log.', labels.join('; '));
    this.status.show();
  }
}

function stageText(p: Progress): string {
  const stage = p.stage.charAt(0).toUpperCase() + p.stage.slice(1);
  return p.message ? `${stage}: ${p.message}` : stage;
}

/**
 * Tell the user a command failed, with a way to the log. Cancellation is not an error.
 * Returns true when `err` was a cancellation.
 */
export function reportError(err: unknown, log: vscode.LogOutputChannel): boolean {
  if (err instanceof CancelledError) return true;
  const message = err instanceof Error ? err.message : String(err);
  log.error(message);
  void vscode.window.showErrorMessage(message, vscode.l10n.t('Show Log')).then((pick) => {
    if (pick) log.show(true);
  });
  return false;
}
