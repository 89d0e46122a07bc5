import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import twilio from 'twilio';
import { WebSocketServer, type WebSocket } from 'ws';
import { tone } from '../../audio/analysis.js';
import { encodeMulaw } from '../../audio/g711.js';
import { inboundMessage, type InboundMessage } from '../../twilio/stream-messages.js';

/**
 * A tiny stand-in for phonebridge that follows the documented protocol, for the
 * simulator's own tests: every signature is checked against the public URL, TwiML is
 * answered by mode, and in `stream` mode the caller's audio is echoed straight back
 * (a loopback agent). It also serves prom-client-style process metrics.
 */
export type FakeMode = 'stream' | 'reject' | 'say-hangup' | 'sip' | 'close-4005' | 'clear';

export interface FakePhonebridge {
  url: string;
  mode: FakeMode;
  seen: {
    webhooks: Record<string, string>[];
    statuses: Record<string, string>[];
    messages: InboundMessage[];
    badSignatures: number;
  };
  reset(mode: FakeMode): void;
  close(): Promise<void>;
}

async function formBody(req: IncomingMessage): Promise<Record<string, string>> {
  let text = '';
  for await (const chunk of req) text += String(chunk);
  return Object.fromEntries(new URLSearchParams(text));
}

/** Starts the fake on a free loopback port. */
export async function startFakePhonebridge(
  authToken: string,
  publicUrl: string,
): Promise<FakePhonebridge> {
  const publicHost = new URL(publicUrl).host;
  const fake: FakePhonebridge = {
    url: '',
    mode: 'stream',
    seen: { webhooks: [], statuses: [], messages: [], badSignatures: 0 },
    reset(mode) {
      fake.mode = mode;
      fake.seen = { webhooks: [], statuses: [], messages: [], badSignatures: 0 };
    },
    close: async () => {
      for (const c of wss.clients) c.terminate();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
    },
  };

  const twiml = (p: Record<string, string>): string => {
    const vr = new twilio.twiml.VoiceResponse();
    if (fake.mode === 'reject') vr.reject({ reason: 'busy' });
    else if (fake.mode === 'say-hangup') {
      vr.say('Sorry, we are busy.');
      vr.hangup();
    } else if (fake.mode === 'sip') vr.dial().sip('sip:room@sip.example.test;transport=tcp');
    else {
      const s = vr.connect().stream({ url: `wss://${publicHost}/media-stream` });
      s.parameter({ name: 'callSid', value: p.CallSid ?? '' });
      s.parameter({ name: 'room', value: 'call-room' });
      vr.say('Goodbye.');
    }
    return vr.toString();
  };

  const onStream = (ws: WebSocket): void => {
    let streamSid = '';
    let marked = false;
    ws.on('message', (data) => {
      const msg = inboundMessage.parse(JSON.parse((data as Buffer).toString('utf8')));
      fake.seen.messages.push(msg);
      if (msg.event === 'start') {
        streamSid = msg.streamSid;
        if (fake.mode === 'close-4005') ws.close(4005, 'agent unavailable');
        if (fake.mode === 'clear') {
          // Ten seconds of agent speech with a mark behind it; barge-in on the first DTMF.
          const payload = Buffer.from(encodeMulaw(tone(500, 10_000, 8000))).toString('base64');
          ws.send(JSON.stringify({ event: 'media', streamSid, media: { payload } }));
          ws.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'long' } }));
        }
      } else if (msg.event === 'media' && fake.mode === 'stream') {
        ws.send(
          JSON.stringify({ event: 'media', streamSid, media: { payload: msg.media.payload } }),
        );
        if (!marked) {
          marked = true;
          ws.send(JSON.stringify({ event: 'mark', streamSid, mark: { name: 'first-echo' } }));
        }
      } else if (msg.event === 'dtmf' && fake.mode === 'clear') {
        ws.send(JSON.stringify({ event: 'clear', streamSid }));
      }
    });
  };

  const wss = new WebSocketServer({ noServer: true });
  const server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/metrics') {
      const cpu = process.cpuUsage();
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        `# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}\n` +
          `# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes ${process.memoryUsage().rss}\n`,
      );
      return;
    }
    void formBody(req).then((params) => {
      const path = req.url ?? '';
      const sig = String(req.headers['x-twilio-signature'] ?? '');
      if (!twilio.validateRequest(authToken, sig, publicUrl + path, params)) {
        fake.seen.badSignatures++;
        res.writeHead(403).end();
      } else if (path === '/incoming-call') {
        fake.seen.webhooks.push(params);
        res.writeHead(200, { 'content-type': 'text/xml' }).end(twiml(params));
      } else if (path === '/call-status') {
        fake.seen.statuses.push(params);
        res.writeHead(204).end();
      } else res.writeHead(404).end();
    });
  });
  server.on('upgrade', (req, socket, head) => {
    const sig = String(req.headers['x-twilio-signature'] ?? '');
    if (
      req.url !== '/media-stream' ||
      !twilio.validateRequest(authToken, sig, `wss://${publicHost}${req.url}`, {})
    ) {
      fake.seen.badSignatures++;
      socket.end('HTTP/1.1 403 Forbidden\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, onStream);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
