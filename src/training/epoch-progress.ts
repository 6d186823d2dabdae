import cliProgress from 'cli-progress';
import type { EpochReport } from '../core/models/autoencoder.js';

/**
 * A per-epoch progress bar for training CLIs (epoch, loss, validation metric, seconds per epoch).
 * On a non-TTY stderr (CI, logs) it prints one line per epoch instead.
 */
export function epochProgress(label: string, epochs: number, metricName: string, lowerIsBetter = false) {
  const tty = process.stderr.isTTY === true;
  const bar = tty
    ? new cliProgress.SingleBar(
        {
          format: `${label} |{bar}| epoch {value}/{total} · loss {loss} · ${metricName} {metric} (best {best}) · {seconds} s/epoch`,
          stream: process.stderr,
          hideCursor: true,
        },
        cliProgress.Presets.shades_classic,
      )
    : undefined;
  let best = Number.NaN;
  bar?.start(epochs, 0, { loss: '-', metric: '-', best: '-', seconds: '-' });
  return {
    onEpoch(r: EpochReport): void {
      const better = (a: number, b: number) => (lowerIsBetter ? a < b : a > b);
      if (r.validation !== undefined && (Number.isNaN(best) || better(r.validation, best))) best = r.validation;
      const fields = {
        loss: r.loss.toFixed(4),
        metric: r.validation === undefined ? '-' : r.validation.toFixed(4),
        best: Number.isNaN(best) ? '-' : best.toFixed(4),
        seconds: r.seconds.toFixed(2),
      };
      if (bar) bar.update(r.epoch, fields);
      else
        console.error(
          `${label} epoch ${r.epoch}/${epochs} loss ${fields.loss} ${metricName} ${fields.metric} ${fields.seconds} s`,
        );
    },
    stop(): void {
      bar?.stop();
    },
  };
}
