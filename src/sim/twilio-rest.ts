import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { timingSafeEqual } from 'node:crypto';
import type { Logger } from '../log.js';
import type { CalleeScenario } from './callee.js';
import { callResourceJson, twilioErrorJson } from './call-resource.js';
import { SignedPoster } from './callbacks.js';
import { twilioSid } from './ids.js';
import { EmulatedOutboundCall, type OutboundCallReport } from './outbound-call.js';

/** One REST request the emulation received, for assertions (credentials left out). */
export interface RecordedRequest {
  method: string;
  path: string;
  /** Form fields; a repeated field keeps its last value here, all of them in `repeated`. */
  params: Record<string, string>;
  repeated: Record<string, string[]>;
  authorized: boolean;
  status: number;
}

export interface TwilioEmulatorOptions {
  /** The account the emulation serves; generated when absent. */
  accountSid?: string;
  authToken: string;
  /** Who picks up a number; default: a person, whatever the number. */
  scenarioFor?: (to: string) => CalleeScenario;
  /**
   * Where Twilio's requests physically go: maps the URL phonebridge gave (its public URL)
   * to where it listens. Default: as given.
   */
  rewrite?: (url: string) => string;
  host?: string;
  port?: number;
  log?: Logger;
}

const E164 = /^\+[1-9]\d{6,14}$/;
const CALLS = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\.json$/;
const CALL = /^\/2010-04-01\/Accounts\/(AC[0-9a-f]{32})\/Calls\/(CA[0-9a-f]{32})\.json$/;

async function formOf(req: IncomingMessage): Promise<URLSearchParams> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return new URLSearchParams(text);
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * A local emulation of Twilio's REST Calls resource (`TWILIO_API_BASE_URL` points
 * phonebridge at it): `POST /2010-04-01/Accounts/{AccountSid}/Calls.json` creates a call,
 * `POST …/Calls/{CallSid}.json` updates one, `GET` reads one, all with HTTP basic auth
 * (Account SID : auth token), form bodies and Twilio's JSON answers and error bodies. Each
 * created call is then played by its callee scenario (src/sim/outbound-call.ts).
 */
export class TwilioEmulator {
  readonly accountSid: string;
  readonly requests: RecordedRequest[] = [];
  readonly calls = new Map<string, EmulatedOutboundCall>();
  url = '';
  private readonly server = createServer((req, res) => void this.handle(req, res));
  private readonly poster: SignedPoster;
  private readonly waiters: ((call: EmulatedOutboundCall) => void)[] = [];

  private constructor(private readonly opts: TwilioEmulatorOptions) {
    this.accountSid = opts.accountSid ?? twilioSid('AC');
    this.poster = new SignedPoster(opts.authToken, opts.rewrite);
  }

  static async start(opts: TwilioEmulatorOptions): Promise<TwilioEmulator> {
    const emu = new TwilioEmulator(opts);
    await new Promise<void>((resolve) =>
      emu.server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', resolve),
    );
    const addr = emu.server.address() as AddressInfo;
    emu.url = `http://${opts.host ?? '127.0.0.1'}:${addr.port}`;
    return emu;
  }

  /** The next call created from now on (or the one with `sid`, once it exists). */
  nextCall(): Promise<EmulatedOutboundCall> {
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  /** Resolves with the report of the call `sid` once it is over. */
  async finished(sid: string): Promise<OutboundCallReport> {
    const call = this.calls.get(sid);
    if (!call) throw new Error(`the emulation has no call ${sid}`);
    return call.done;
  }

  async close(): Promise<void> {
    for (const c of this.calls.values()) if (c.live) c.update({ Status: 'completed' });
    await Promise.allSettled([...this.calls.values()].map((c) => c.done));
    this.server.closeAllConnections();
    await new Promise((r) => this.server.close(r));
  }

  private authorized(req: IncomingMessage, account: string): boolean {
    const m = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
    if (!m) return false;
    const [user, ...rest] = Buffer.from(m[1]!, 'base64').toString('utf8').split(':');
    return (
      user === account &&
      account === this.accountSid &&
      sameSecret(rest.join(':'), this.opts.authToken)
    );
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '').split('?')[0]!;
    const form = req.method === 'POST' ? await formOf(req) : new URLSearchParams();
    const params = Object.fromEntries(form);
    const repeated: Record<string, string[]> = {};
    for (const k of new Set(form.keys())) repeated[k] = form.getAll(k);
    const account = CALLS.exec(path)?.[1] ?? CALL.exec(path)?.[1];
    const authorized = account !== undefined && this.authorized(req, account);
    const answer = (status: number, body: unknown) => {
      this.requests.push({ method: req.method ?? '', path, params, repeated, authorized, status });
      res
        .writeHead(status, { 'content-type': 'application/json; charset=utf-8' })
        .end(JSON.stringify(body));
    };
    const error = (status: number, code: number, message: string) => {
      const e = twilioErrorJson(status, code, message);
      answer(e.status, e.body);
    };
    if (account === undefined) return error(404, 20404, 'The requested resource was not found');
    if (!authorized) return error(401, 20003, 'Authenticate');

    if (CALLS.test(path) && req.method === 'POST')
      return this.create(params, repeated, answer, error);
    const sid = CALL.exec(path)?.[2];
    const call = sid ? this.calls.get(sid) : undefined;
    if (!call) return error(404, 20404, `The requested resource ${path} was not found`);
    if (req.method === 'GET') return answer(200, callResourceJson(call.state));
    if (req.method !== 'POST') return error(405, 20004, 'Method not allowed');
    const r = call.update(params);
    if (!r.ok) return error(r.status, r.code, r.message);
    answer(200, callResourceJson(call.state));
  }

  private create(
    p: Record<string, string>,
    repeated: Record<string, string[]>,
    answer: (status: number, body: unknown) => void,
    error: (status: number, code: number, message: string) => void,
  ): void {
    if (!p.To) return error(400, 21201, "No 'To' number is specified");
    if (!p.From) return error(400, 21213, "No 'From' number is specified");
    if (!E164.test(p.To)) return error(400, 21211, `Invalid 'To' Phone Number: ${p.To}`);
    if (!p.Url || !/^https?:\/\//.test(p.Url))
      return error(400, 21205, 'Url parameter is required and must be a valid URL');
    if ((p.Method ?? 'POST').toUpperCase() !== 'POST')
      return error(400, 21205, 'the emulation only fetches Url with POST');
    const timeout = Number(p.Timeout ?? 60);
    const call = new EmulatedOutboundCall(
      {
        to: p.To,
        from: p.From,
        url: p.Url,
        ...(p.StatusCallback && { statusCallback: p.StatusCallback }),
        statusCallbackEvents: new Set(repeated.StatusCallbackEvent ?? ['completed']),
        ...(p.MachineDetection && { machineDetection: p.MachineDetection }),
        asyncAmd: p.AsyncAmd === 'true',
        ...(p.AsyncAmdStatusCallback && { asyncAmdStatusCallback: p.AsyncAmdStatusCallback }),
        timeoutSeconds: Number.isFinite(timeout) && timeout > 0 ? Math.min(timeout, 600) : 60,
      },
      this.accountSid,
      this.poster,
      this.opts.authToken,
      this.opts.scenarioFor?.(p.To) ?? { kind: 'human' },
      this.opts.rewrite ?? ((u) => u),
      this.opts.log,
    );
    this.calls.set(call.state.sid, call);
    answer(201, callResourceJson(call.state));
    for (const w of this.waiters.splice(0)) w(call);
  }
}
