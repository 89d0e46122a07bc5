import { describeError } from '../errors.js';

interface Command {
  summary: string;
  /**
   * Commands whose stdout is their product (a report, JSON): rtc-node logs at debug to
   * stdout unless NODE_ENV=production, and it reads that once, at import.
   */
  reportsOnStdout?: boolean;
  load: () => Promise<{ run: (argv: string[]) => Promise<number> }>;
}

/** Subcommands load lazily: `phonebridge call` should not pay for the agent framework's import. */
const commands: Record<string, Command> = {
  serve: {
    summary: 'run the HTTP/WebSocket server that Twilio calls',
    load: () => import('./serve.js'),
  },
  agent: {
    summary: 'run the LiveKit agent worker (openai, echo or loopback mode)',
    load: () => import('./agent.js'),
  },
  dev: {
    summary: 'start local livekit-server, the server and the agent, and keep them running',
    load: () => import('./dev.js'),
  },
  demo: {
    summary: 'start the whole stack, place one simulated call, print its report, stop',
    load: () => import('./demo.js'),
    reportsOnStdout: true,
  },
  call: {
    summary: 'place one simulated Twilio call against a running phonebridge',
    load: () => import('./call.js'),
    reportsOnStdout: true,
  },
  dial: {
    summary: 'place an outbound call through the API of a running phonebridge',
    load: () => import('./dial.js'),
    reportsOnStdout: true,
  },
  load: {
    summary: 'run many concurrent simulated calls and report latency and cost',
    load: () => import('./load.js'),
    reportsOnStdout: true,
  },
  sip: {
    summary: "provision (setup) or check (status) LiveKit's SIP trunk and dispatch rule",
    load: () => import('./sip.js'),
    reportsOnStdout: true,
  },
  responder: {
    summary: 'serve many rooms from one process as a loopback agent (load tests)',
    load: () => import('./responder.js'),
  },
};

export function usage(): string {
  const width = Math.max(...Object.keys(commands).map((c) => c.length));
  return [
    'Usage: phonebridge <command> [options]',
    '',
    'Commands:',
    ...Object.entries(commands).map(([name, c]) => `  ${name.padEnd(width)}  ${c.summary}`),
    '',
    "Run `phonebridge <command> --help` for a command's options. Configuration comes from the",
    'environment (and .env); see README.md for every variable.',
  ].join('\n');
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    console.log(usage());
    return 0;
  }
  if (name === '--version' || name === '-v') {
    const { version } = await import('../version.js');
    console.log(version);
    return 0;
  }
  const command = commands[name];
  if (!command) {
    console.error(`phonebridge: unknown command '${name}'\n\n${usage()}`);
    return 2;
  }
  if (command.reportsOnStdout) process.env.NODE_ENV = 'production';
  try {
    const mod = await command.load();
    return await mod.run(rest);
  } catch (err) {
    console.error(`phonebridge ${name}: ${describeError(err)}`);
    return 1;
  }
}
