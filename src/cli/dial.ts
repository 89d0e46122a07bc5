import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import { PbError, describeError } from '../errors.js';
import type { CallRecord } from '../bridge/call-records.js';
import { abortOnSignals } from './signals.js';

const HELP = `Usage: phonebridge dial NUMBER [options]

Places an outbound call through the API of a running phonebridge (POST /calls): the agent
is dispatched into the call's room, Twilio dials NUMBER, and answering-machine detection
decides whether the agent talks, leaves a voicemail message or hangs up.

  --url URL                  phonebridge's base URL (default http://127.0.0.1:8000)
  --api-key KEY              the API key (default $PHONEBRIDGE_API_KEY)
  --from NUMBER              caller ID, a number of your Twilio account (default: the
                             server's TWILIO_FROM_NUMBER)
  --metadata JSON            context for the agent: a JSON object of at most 4 KiB
  --machine hangup|voicemail what to do when a machine answers (default voicemail)
  --voicemail-message TEXT   what openai mode says to a machine (default VOICEMAIL_MESSAGE)
  --greeting agent-first|caller-first
                             who speaks first once a person answered (default agent-first)
  --idempotency-key KEY      a retry with the same key does not dial twice
  --wait                     follow the call until it ends, printing each status;
                             Ctrl-C hangs it up
  --poll-ms MS               how often --wait asks for the call's status (default 1000)
  --json                     print the API's answers as JSON

Exit status: 0 when the call was placed (with --wait: answered, by anyone or anything),
1 when it was refused, failed or was not answered, 2 on bad options.`;

const UNANSWERED = new Set(['busy', 'no-answer', 'failed', 'canceled']);

interface Api {
  request(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<ApiAnswer>;
}

/** An API answer: the JSON body, or `{error: {message}}` for anything else. */
interface ApiAnswer {
  status: number;
  json: Record<string, unknown>;
}

function apiClient(url: string, key: string): Api {
  return {
    async request(method, path, body, headers = {}) {
      const res = await fetch(`${url.replace(/\/+$/, '')}${path}`, {
        method,
        headers: {
          authorization: `Bearer ${key}`,
          ...(body !== undefined && { 'content-type': 'application/json' }),
          ...headers,
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(15_000),
      });
      const text = await res.text();
      try {
        return { status: res.status, json: JSON.parse(text) as Record<string, unknown> };
      } catch {
        return { status: res.status, json: { error: { message: text.slice(0, 200) } } };
      }
    },
  };
}

function problem(r: ApiAnswer): string {
  const e = r.json?.error as { code?: string; message?: string } | undefined;
  return `HTTP ${r.status}${e?.code ? ` ${e.code}` : ''}: ${e?.message ?? 'no details'}`;
}

/** `phonebridge dial`: one outbound call through the API, followed with --wait. */
export async function run(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        url: { type: 'string' },
        'api-key': { type: 'string' },
        from: { type: 'string' },
        metadata: { type: 'string' },
        machine: { type: 'string' },
        'voicemail-message': { type: 'string' },
        greeting: { type: 'string' },
        'idempotency-key': { type: 'string' },
        wait: { type: 'boolean' },
        'poll-ms': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (err) {
    console.error(
      `phonebridge dial: ${(err as Error).message}\n\nRun 'phonebridge dial --help' for options.`,
    );
    return 2;
  }
  const { values: v, positionals } = parsed;
  if (v.help) {
    console.log(HELP);
    return 0;
  }
  let body: Record<string, unknown>;
  let pollMs: number;
  let key: string;
  try {
    const to = positionals[0];
    if (!to || positionals.length > 1)
      throw new PbError(
        'PB_ERR_BAD_REQUEST',
        'give exactly one number to dial, such as +15555550123',
      );
    key = v['api-key'] ?? process.env.PHONEBRIDGE_API_KEY?.split(',')[0]?.trim() ?? '';
    if (!key)
      throw new PbError(
        'PB_ERR_BAD_REQUEST',
        'no API key: set PHONEBRIDGE_API_KEY or pass --api-key',
      );
    if (v.machine !== undefined && !['hangup', 'voicemail'].includes(v.machine))
      throw new PbError('PB_ERR_BAD_REQUEST', '--machine must be hangup or voicemail');
    let metadata: unknown;
    if (v.metadata !== undefined) {
      try {
        metadata = JSON.parse(v.metadata);
      } catch {
        throw new PbError(
          'PB_ERR_BAD_REQUEST',
          '--metadata must be JSON, such as \'{"order":42}\'',
        );
      }
    }
    pollMs = v['poll-ms'] === undefined ? 1000 : Number(v['poll-ms']);
    if (!Number.isInteger(pollMs) || pollMs < 100)
      throw new PbError('PB_ERR_BAD_REQUEST', '--poll-ms must be a whole number, at least 100');
    body = {
      to,
      ...(v.from !== undefined && { from: v.from }),
      ...(metadata !== undefined && { metadata }),
      ...(v.machine !== undefined && { machine: v.machine }),
      ...(v['voicemail-message'] !== undefined && { voicemailMessage: v['voicemail-message'] }),
      ...(v.greeting !== undefined && { greeting: v.greeting }),
    };
  } catch (err) {
    console.error(
      `phonebridge dial: ${describeError(err).replace(/^PB_ERR_\w+: /, '')}\n\nRun 'phonebridge dial --help' for options.`,
    );
    return 2;
  }

  const api = apiClient(v.url ?? 'http://127.0.0.1:8000', key);
  const out = (line: string, json: unknown) => console.log(v.json ? JSON.stringify(json) : line);
  let placed: ApiAnswer;
  try {
    placed = await api.request(
      'POST',
      '/calls',
      body,
      v['idempotency-key'] ? { 'idempotency-key': v['idempotency-key'] } : {},
    );
  } catch (err) {
    console.error(`phonebridge dial: cannot reach phonebridge: ${describeError(err)}`);
    return 1;
  }
  if (placed.status !== 201) {
    console.error(`phonebridge dial: the call was not placed: ${problem(placed)}`);
    return 1;
  }
  const { callSid, room } = placed.json as { callSid: string; room: string; status: string };
  out(`${callSid}  ${String(placed.json.status)}  (room ${room})`, placed.json);
  if (!v.wait) return 0;
  return follow(api, callSid, pollMs, out);
}

/** Prints each new status (and the AMD verdict) until the call's outcome is known. */
async function follow(
  api: Api,
  callSid: string,
  pollMs: number,
  out: (line: string, json: unknown) => void,
): Promise<number> {
  const interrupt = abortOnSignals();
  let seen = 1; // the create answer's `queued`
  let verdictShown = false;
  let hangingUp = false;
  try {
    for (;;) {
      if (interrupt.signal.aborted && !hangingUp) {
        hangingUp = true;
        const r = await api.request('DELETE', `/calls/${callSid}`).catch((err: unknown) => ({
          status: 0,
          json: { error: { message: describeError(err) } },
        }));
        out(
          r.status === 200
            ? `${callSid}  hanging up`
            : `${callSid}  could not hang up: ${problem(r)}`,
          { hangup: r.status === 200 },
        );
      }
      const r = await api.request('GET', `/calls/${callSid}`).catch(() => undefined);
      if (r?.status === 200) {
        const rec = r.json as unknown as CallRecord;
        for (const h of rec.history.slice(seen)) out(`${callSid}  ${h.status}`, h);
        seen = Math.max(seen, rec.history.length);
        if (rec.answeredBy && !verdictShown) {
          verdictShown = true;
          const after =
            rec.machineDetectionDurationMs === undefined
              ? ''
              : ` after ${(rec.machineDetectionDurationMs / 1000).toFixed(1)} s`;
          out(`${callSid}  answered by ${rec.answeredBy}${after}`, { answeredBy: rec.answeredBy });
        }
        if (rec.outcome !== null) {
          const talked = rec.durationSeconds !== undefined && !UNANSWERED.has(rec.outcome);
          const duration = talked ? ` after ${rec.durationSeconds} s` : '';
          out(
            `${callSid}  outcome: ${rec.outcome}${duration}${rec.endReason ? ` (${rec.endReason})` : ''}`,
            rec,
          );
          return UNANSWERED.has(rec.outcome) ? 1 : 0;
        }
      } else if (r) {
        console.error(`phonebridge dial: ${problem(r)}`);
        if (r.status === 404 || r.status === 401) return 1;
      }
      // Ctrl-C cuts the wait short once, to hang up at once; after that, plain polling.
      await (hangingUp
        ? sleep(pollMs)
        : sleep(pollMs, undefined, { signal: interrupt.signal }).catch(() => undefined));
    }
  } finally {
    interrupt.release();
  }
}
