import { parseArgs } from 'node:util';
import { createLogger } from '../log.js';
import { loadConfig, readDotEnv } from '../config/load.js';
import { startDevEmulator } from './dev-emulator.js';
import { onShutdownSignal } from './signals.js';
import { startStack } from './stack.js';

const HELP = `Usage: phonebridge dev [--sip] [--twilio-emulator]

Starts local livekit-server (unless LIVEKIT_URL is set), phonebridge and the agent, and
keeps them running for a real Twilio number or for \`phonebridge call\`. Honours PORT,
HOST, PUBLIC_URL, TWILIO_AUTH_TOKEN (generated and printed when unset), MAX_CONCURRENT_CALLS
and AGENT_MODE. Ctrl-C stops everything.

  --sip   BRIDGE_MODE=sip: the local livekit-server gets a throwaway redis-server (Debian's
          redis-server package) for its SIP API, and the trunk and dispatch rule are
          provisioned (SIP_USERNAME/SIP_PASSWORD generated unless set). No SIP service runs
          here, so calls get their room and agent but no audio (docs/sip.md).
  --twilio-emulator  also emulate Twilio's REST API for outbound calls (TWILIO_API_BASE_URL),
                     so \`phonebridge dial\` places calls offline to emulated callees`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      help: { type: 'boolean', short: 'h' },
      sip: { type: 'boolean' },
      'twilio-emulator': { type: 'boolean' },
    },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const base = loadConfig();
  const log = createLogger({ level: base.LOG_LEVEL });
  const emu = values['twilio-emulator']
    ? await startDevEmulator({ ...readDotEnv(), ...process.env }, log)
    : undefined;
  const stack = await startStack({
    log,
    agent: true,
    sip: values.sip,
    onProgress: (l) => console.error(l),
    ...(emu && { env: emu.env }),
  });
  const { config } = stack;
  const generatedSip = values.sip && !base.SIP_USERNAME && base.SIP_ALLOWED_ADDRESSES.length === 0;
  const generatedToken = stack.generatedAuthToken || !!emu?.generatedToken;
  const publicUrl = config.PUBLIC_URL ?? stack.url;
  console.log(
    [
      '',
      `phonebridge ready on http://${config.HOST}:${stack.server.port}`,
      '',
      `  LiveKit      ${config.LIVEKIT_URL}${stack.livekit ? ' (local livekit-server)' : ''}`,
      `  Agent        ${config.AGENT_MODE} mode, registered as ${config.AGENT_NAME}`,
      `  Capacity     ${config.MAX_CONCURRENT_CALLS} concurrent calls`,
      ...(config.BRIDGE_MODE === 'sip'
        ? [
            `  SIP          <Dial><Sip> to ${config.LIVEKIT_SIP_HOST} over ${config.SIP_TRANSPORT}, user ${config.SIP_USERNAME ?? '(none)'}${generatedSip ? ' (password generated for this run)' : ''}`,
            '               trunk and dispatch rule provisioned; no SIP service runs here, so calls get a room and an agent but no audio',
          ]
        : []),
      generatedToken
        ? `  Auth token   ${config.TWILIO_AUTH_TOKEN} (generated for this run; set TWILIO_AUTH_TOKEN for a real number)`
        : '',
      ...(emu ? emu.banner(stack.url) : []),
      '',
      'Try a simulated call in another terminal:',
      `  TWILIO_AUTH_TOKEN=${generatedToken ? config.TWILIO_AUTH_TOKEN : '<your token>'} npx phonebridge call --url ${stack.url} --say "Hello there"`,
      '',
      'For a real Twilio number:',
      '  1. Expose this port with a tunnel (e.g. `cloudflared tunnel --url ' +
        stack.url +
        '` or `ngrok http ' +
        stack.server.port +
        '`).',
      '  2. Restart with PUBLIC_URL=https://<tunnel host> and your TWILIO_AUTH_TOKEN: signatures are checked against PUBLIC_URL.',
      `  3. In the Twilio console set the number's voice webhook to POST ${publicUrl}/incoming-call`,
      `     and its status callback to POST ${publicUrl}/call-status.`,
      '',
      'Ctrl-C stops everything.',
    ]
      .filter((l, i, all) => l !== '' || all[i - 1] !== '')
      .join('\n'),
  );
  await onShutdownSignal(log);
  await stack.stop();
  await emu?.emulator.close();
  return 0;
}
