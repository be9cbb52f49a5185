/**
 * A webview that never starts: after a window reload VS Code sometimes leaves a restored webview
 * blank, its service worker not registered (microsoft/vscode#125993), and the page's script never
 * runs. Each time the panel is shown its page is expected to post 'ready'; when it has not within
 * `timeoutMs`, the page is loaded again (new HTML, so a fresh frame), up to `attempts` times, and
 * then the caller is told. No `vscode` import: the timing logic is tested on its own.
 */
export interface ReadyWatchOptions {
  /** Set the webview's HTML again. */
  reload: () => void;
  /** Every one of the `attempts` reloads failed to bring the page up. */
  giveUp: (attempts: number) => void;
  log: (message: string) => void;
  timeoutMs?: number;
  attempts?: number;
}

export interface ReadyWatch {
  /** The panel became visible: its page should say 'ready' soon. */
  expect(): void;
  /** The page said 'ready'. */
  ready(): void;
  /** The panel was hidden (its page is gone until shown again) or disposed. */
  stop(): void;
}

export function watchReady(o: ReadyWatchOptions): ReadyWatch {
  const timeoutMs = o.timeoutMs ?? 8000;
  const attempts = o.attempts ?? 3;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let reloads = 0;
  const stop = (): void => {
    if (timer) clearTimeout(timer);
    timer = undefined;
  };
  const arm = (): void => {
    stop();
    timer = setTimeout(() => {
      timer = undefined;
      if (reloads >= attempts) {
        o.giveUp(attempts);
        return;
      }
      reloads++;
      o.log(`webview not ready ${timeoutMs} ms after it was shown: loading it again (${reloads}/${attempts})`);
      o.reload();
      arm();
    }, timeoutMs);
  };
  return {
    expect: arm,
    ready: () => {
      stop();
      reloads = 0;
    },
    stop,
  };
}
