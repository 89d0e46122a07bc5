import { parseArgs } from 'node:util';
import {
  CALLER_FLAGS,
  parseNumber,
  sourceFromFlags,
  targetFromFlags,
  troubleFromFlags,
} from '../sim/args.js';
import { formatLoadReport, runLoad, type LoadOptions, type LoadProgress } from '../sim/load.js';
import { abortOnSignals } from './signals.js';

const HELP = `Usage: phonebridge load [options]

Runs many concurrent simulated Twilio calls against a running phonebridge and reports
latency, underruns and the server's cost per call. With the loopback agent the caller
sends tone bursts on a known schedule and the round trip is measured from their echoes;
with --wav/--say the response latency of each turn is measured instead.

  --url URL            where phonebridge listens (default http://127.0.0.1:8000)
  --public-url URL     the base URL Twilio would sign (default $PUBLIC_URL, else --url)
  --auth-token TOKEN   Twilio auth token (default $TWILIO_AUTH_TOKEN)
  --calls N            calls to place (default 10)
  --ramp PER_SEC       new calls per second (default 5)
  --duration SECONDS   caller audio per call (default 10); --listen SECONDS after it (default 2)
  --wav FILE | --say "TEXT" [--voice NAME] | --tone HZ
                       caller audio (default: 1 kHz tone bursts, one per second)
  --jitter MS, --loss PCT, --burst, --dtmf 1@3s
                       trouble, as for 'phonebridge call'
  --no-metrics         do not scrape GET /metrics for CPU and RSS
  --json               the report as JSON on stdout

A live progress line is drawn on stderr when it is a terminal. Exits 1 if any call failed.`;

function progressLine(p: LoadProgress): string {
  const width = 24;
  const filled = Math.round((p.done / Math.max(1, p.total)) * width);
  const bar = '#'.repeat(filled) + '.'.repeat(width - filled);
  const p95 = p.p95Ms === null ? '-' : `${Math.round(p.p95Ms)} ms`;
  return `[${bar}] active ${p.active}  done ${p.done}/${p.total}  failed ${p.failed}  rejected ${p.rejected}  p95 ${p95}`;
}

/** `phonebridge load`: a load test against a running phonebridge. */
export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...CALLER_FLAGS,
      calls: { type: 'string' },
      ramp: { type: 'string' },
      duration: { type: 'string' },
      'no-metrics': { type: 'boolean' },
      // Accepted for `npm run loadtest`; only the standard profile exists so far.
      profile: { type: 'string' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  let options: LoadOptions;
  try {
    if (v.profile !== undefined && v.profile !== 'standard')
      throw new Error(`--profile: only 'standard' is known, got '${v.profile}'`);
    const durationSeconds = parseNumber(v.duration, '--duration', 10, 0.1);
    const source = sourceFromFlags(v, durationSeconds * 1000);
    const trouble = troubleFromFlags(v, durationSeconds * 1000 + 60_000);
    options = {
      ...targetFromFlags(v),
      calls: Math.round(parseNumber(v.calls, '--calls', 10, 1)),
      rampPerSec: parseNumber(v.ramp, '--ramp', 5, 0.01),
      durationSeconds,
      listenMs: parseNumber(v.listen, '--listen', 2) * 1000,
      ...(source && { source }),
      ...(trouble && { trouble }),
      metrics: !v['no-metrics'],
    };
  } catch (err) {
    console.error(
      `phonebridge load: ${(err as Error).message}\n\nRun 'phonebridge load --help' for options.`,
    );
    return 2;
  }

  const tty = process.stderr.isTTY;
  let lastDraw = 0;
  if (tty)
    options.onProgress = (p) => {
      const now = Date.now();
      if (now - lastDraw < 250 && p.done < p.total) return;
      lastDraw = now;
      process.stderr.write(`\r\x1b[2K${progressLine(p)}`);
    };
  const interrupt = abortOnSignals();
  try {
    const report = await runLoad(options, interrupt.signal);
    if (tty) process.stderr.write('\n');
    console.log(v.json ? JSON.stringify(report, null, 2) : formatLoadReport(report));
    return report.calls.failed > 0 || interrupt.signal.aborted ? 1 : 0;
  } finally {
    interrupt.release();
  }
}
