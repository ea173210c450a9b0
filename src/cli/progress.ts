/** A progress line for long work; see {@link progressLine}. */
export interface Progress {
  /** `done` of `total` (total unknown: null) are finished; redrawn at most ten times a second. */
  update(done: number, total: number | null): void;
  /** Ends the line (the last numbers stay on screen); idempotent. */
  end(): void;
}

const silent: Progress = { update: () => undefined, end: () => undefined };

/**
 * A progress line on stderr (`<label>: 1200/5000 (24%)`, redrawn in place with `\r`), drawn only
 * when stderr is a terminal and the command is not in `--json` mode: piped or captured output,
 * logs and CI see nothing, so progress never mixes with results or log lines.
 */
export function progressLine(label: string, options: { readonly json: boolean; readonly stream?: NodeJS.WriteStream }): Progress {
  const stream = options.stream ?? process.stderr;
  if (options.json || stream.isTTY !== true) return silent;
  let last = 0;
  let drawn = false;
  let ended = false;
  const draw = (done: number, total: number | null): void => {
    const share = total ? ` (${Math.floor((done / total) * 100)}%)` : '';
    stream.write(`\r\x1b[2K${label}: ${done}${total === null ? '' : `/${total}`}${share}`);
    drawn = true;
  };
  return {
    update(done, total) {
      if (ended) return;
      const now = Date.now();
      if (now - last < 100 && done !== total) return;
      last = now;
      draw(done, total);
    },
    end() {
      if (ended) return;
      ended = true;
      if (drawn) stream.write('\n');
    },
  };
}
