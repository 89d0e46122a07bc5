import { mkdtempSync, createWriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { readDotEnv } from '../config/load.js';
import { simulateCall } from '../sim/call.js';
import { formatCallReport } from '../sim/report.js';
import { readWavAs8kMono } from '../audio/wav.js';
import { startStack } from './stack.js';

const HELP = `Usage: phonebridge demo [--out FILE.wav] [--json]

Starts local livekit-server, phonebridge and the agent (OpenAI mode when OPENAI_API_KEY
is set, else the offline echo line), places one simulated call in which the caller says
a sentence, prints the call report and where the recording of what the caller heard is,
and stops everything. Needs no account and no network.`;

const CALLER_WAV = fileURLToPath(new URL('../../assets/demo/caller.wav', import.meta.url));
/** The echo line greets first; the caller waits for the greeting to end, as people do. */
const CALLER_WAITS_MS = 9500;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      out: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = mkdtempSync(join(tmpdir(), 'phonebridge-demo-'));
  const logFile = join(dir, 'phonebridge.log');
  const outPath = values.out ?? join(dir, 'caller-heard.wav');
  // The echo line answers a turn after SILENCE_DURATION_MS of silence; 400 ms (tuned for
  // OpenAI's VAD) splits a spoken sentence at its commas, and each piece's echo is then
  // cut off by the caller's next words. A second of silence keeps the sentence whole.
  // Job processes read the environment, so it is set there.
  const echo = !process.env.OPENAI_API_KEY && (process.env.AGENT_MODE ?? 'echo') === 'echo';
  if (echo) process.env.SILENCE_DURATION_MS ??= '1000';
  const env: Record<string, string | undefined> = {
    ...readDotEnv(),
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
  };
  // The demo's own output is the report; the call's full story goes to a log file.
  const log = createLogger({
    level: env.LOG_LEVEL || 'info',
    destination: createWriteStream(logFile),
  });
  // Agent job processes inherit the environment and log to stdout, which is the report's.
  process.env.LOG_LEVEL = 'warn';
  const progress = (line: string): void => {
    if (!values.json) console.error(line);
  };
  const stack = await startStack({
    env,
    log,
    agent: true,
    agentFrameworkLogLevel: 'error',
    onProgress: progress,
  });
  try {
    progress(`Placing a simulated call (agent: ${stack.config.AGENT_MODE} mode)…`);
    const sentence = await readWavAs8kMono(CALLER_WAV);
    const samples = new Int16Array(Math.round((CALLER_WAITS_MS * 8000) / 1000) + sentence.length);
    samples.set(sentence, samples.length - sentence.length);
    const report = await simulateCall(
      {
        url: stack.url,
        authToken: stack.config.TWILIO_AUTH_TOKEN!,
        source: { kind: 'pcm', samples },
        listenMs: 8000,
        outPath,
      },
      AbortSignal.timeout(120_000),
    );
    if (values.json) {
      console.log(JSON.stringify({ report, recording: outPath, log: logFile }, null, 2));
    } else {
      console.log(`\n${formatCallReport(report)}\n`);
      console.log(`What the caller heard: ${outPath}`);
      console.log(`phonebridge log:       ${logFile}`);
    }
    return report.ok ? 0 : 1;
  } finally {
    progress('Stopping…');
    await stack.stop();
  }
}
