import { parseArgs } from 'node:util';
import {
  CALLER_FLAGS,
  parseDurationMs,
  parseNumber,
  sourceFromFlags,
  targetFromFlags,
  troubleFromFlags,
} from '../sim/args.js';
import { simulateCall } from '../sim/call.js';
import { formatCallReport } from '../sim/report.js';
import { abortOnSignals } from './signals.js';

const HELP = `Usage: phonebridge call [options]

Places one simulated inbound Twilio call against a running phonebridge: a signed
POST /incoming-call, the TwiML followed as Twilio would, a signed Media Stream with
real-time caller audio, and a signed POST /call-status at the end. Prints a call report.

Where:
  --url URL            where phonebridge listens (default http://127.0.0.1:8000)
  --public-url URL     the base URL Twilio would sign (default $PUBLIC_URL, else --url)
  --auth-token TOKEN   Twilio auth token (default $TWILIO_AUTH_TOKEN)

What the caller says (one of; default a 440 Hz tone):
  --wav FILE           a WAV file, any rate and channel count
  --say "TEXT"         speech rendered by an installed espeak-ng  (--voice NAME, default en-us)
  --tone HZ            a sine tone, --duration SECONDS long (default 2)
  --listen SECONDS     keep the line open (silence) after the audio (default 5)

Trouble:
  --jitter MS          random send delay per message, order kept
  --loss PCT           drop this percentage of media frames (timestamps leave gaps)
  --burst              stall media for 500 ms at 2 s and every 5 s after, then send at once
  --dtmf 1@3s,2@4.5s   press keys at stream times
  --hangup-at SECONDS  hang up mid-call

Output:
  --out FILE.wav       what the caller heard (8 kHz mono PCM16, playback clock)
  --json               the report as JSON on stdout
  --from / --to        caller and called numbers (default +15555550100 / +15555550199)
  --no-status-callback do not POST /call-status

Exit status: 0 when the call went as Twilio would expect (including a deliberate
rejection), 1 when it failed, 2 on bad options.`;

/** `phonebridge call`: one simulated Twilio call and its report. */
export async function run(argv: string[]): Promise<number> {
  const { values: v } = parseArgs({
    args: argv,
    options: {
      ...CALLER_FLAGS,
      duration: { type: 'string' },
      'hangup-at': { type: 'string' },
      out: { type: 'string' },
      from: { type: 'string' },
      to: { type: 'string' },
      'no-status-callback': { type: 'boolean' },
    },
  });
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  let options: Parameters<typeof simulateCall>[0];
  try {
    const toneMs = parseNumber(v.duration, '--duration', 2, 0.02) * 1000;
    const listenMs = parseNumber(v.listen, '--listen', 5) * 1000;
    const hangupAtMs =
      v['hangup-at'] === undefined ? undefined : parseDurationMs(v['hangup-at'], '--hangup-at');
    const source = sourceFromFlags(v, toneMs) ?? { kind: 'tone', freqHz: 440, durationMs: toneMs };
    // Enough burst stalls for any reasonable call; the sender ignores those past its end.
    const trouble = troubleFromFlags(v, 3_600_000);
    options = {
      ...targetFromFlags(v),
      source,
      listenMs,
      ...(hangupAtMs !== undefined && { hangupAtMs }),
      ...(trouble && { trouble }),
      ...(v.out !== undefined && { outPath: v.out }),
      ...(v.from !== undefined && { from: v.from }),
      ...(v.to !== undefined && { to: v.to }),
      statusCallback: !v['no-status-callback'],
    };
  } catch (err) {
    console.error(
      `phonebridge call: ${(err as Error).message}\n\nRun 'phonebridge call --help' for options.`,
    );
    return 2;
  }

  // Ctrl-C hangs up like a caller would: stop, close, status callback.
  const interrupt = abortOnSignals();
  try {
    const report = await simulateCall(options, interrupt.signal);
    console.log(v.json ? JSON.stringify(report, null, 2) : formatCallReport(report));
    if (v.out && report.stream) console.error(`wrote what the caller heard to ${v.out}`);
    return report.ok ? 0 : 1;
  } finally {
    interrupt.release();
  }
}
