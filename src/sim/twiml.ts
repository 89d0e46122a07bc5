import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { PbError } from '../errors.js';

/** One `<Stream>` inside `<Connect>`: where Twilio opens the Media Stream, and its parameters. */
export interface StreamTarget {
  url: string;
  name?: string;
  statusCallback?: string;
  statusCallbackMethod?: string;
  /** `<Parameter name value>` children, in document order; they become `customParameters`. */
  parameters: Record<string, string>;
}

/** The TwiML verbs the simulator understands, in document order; anything else is `Other`. */
export type TwimlVerb =
  | { verb: 'Connect'; stream?: StreamTarget; nouns: string[]; action?: string }
  | { verb: 'Say'; text: string; voice?: string; language?: string }
  | { verb: 'Pause'; lengthSeconds: number }
  | { verb: 'Hangup' }
  | { verb: 'Reject'; reason: 'rejected' | 'busy' }
  | { verb: 'Dial'; sip: string[]; numbers: string[]; action?: string }
  | { verb: 'Redirect'; url: string }
  | { verb: 'Other'; name: string };

type Node = Record<string, unknown> & { ':@'?: Record<string, string> };

const parser = new XMLParser({
  preserveOrder: true,
  ignoreAttributes: false,
  attributeNamePrefix: '',
  trimValues: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: true,
});

function tagOf(node: Node): string | undefined {
  return Object.keys(node).find((k) => k !== ':@');
}
function childrenOf(node: Node, tag: string): Node[] {
  const c = node[tag];
  return Array.isArray(c) ? (c as Node[]) : [];
}
function textOf(node: Node, tag: string): string {
  return childrenOf(node, tag)
    .map((c) => (typeof c['#text'] === 'string' ? c['#text'] : ''))
    .join(' ')
    .trim();
}

function parseStream(node: Node): StreamTarget {
  const attrs = node[':@'] ?? {};
  if (!attrs.url) throw new PbError('PB_ERR_SIM', 'TwiML <Stream> has no url attribute');
  const parameters: Record<string, string> = {};
  for (const child of childrenOf(node, 'Stream')) {
    if (tagOf(child) !== 'Parameter') continue;
    const a = child[':@'] ?? {};
    if (a.name !== undefined) parameters[a.name] = a.value ?? '';
  }
  return {
    url: attrs.url,
    ...(attrs.name !== undefined && { name: attrs.name }),
    ...(attrs.statusCallback !== undefined && { statusCallback: attrs.statusCallback }),
    ...(attrs.statusCallbackMethod !== undefined && {
      statusCallbackMethod: attrs.statusCallbackMethod,
    }),
    parameters,
  };
}

function parseVerb(node: Node, tag: string): TwimlVerb {
  const attrs = node[':@'] ?? {};
  switch (tag) {
    case 'Connect': {
      const kids = childrenOf(node, tag);
      const streamNode = kids.find((k) => tagOf(k) === 'Stream');
      return {
        verb: 'Connect',
        ...(streamNode && { stream: parseStream(streamNode) }),
        nouns: kids.map((k) => tagOf(k) ?? '').filter((t) => t && t !== '#text'),
        ...(attrs.action !== undefined && { action: attrs.action }),
      };
    }
    case 'Say':
      return {
        verb: 'Say',
        text: textOf(node, tag),
        ...(attrs.voice !== undefined && { voice: attrs.voice }),
        ...(attrs.language !== undefined && { language: attrs.language }),
      };
    case 'Pause':
      return { verb: 'Pause', lengthSeconds: Number(attrs.length ?? '1') || 1 };
    case 'Hangup':
      return { verb: 'Hangup' };
    case 'Reject':
      return { verb: 'Reject', reason: attrs.reason === 'busy' ? 'busy' : 'rejected' };
    case 'Dial': {
      const kids = childrenOf(node, tag);
      const sip = kids.filter((k) => tagOf(k) === 'Sip').map((k) => textOf(k, 'Sip'));
      const numbers = kids.filter((k) => tagOf(k) === 'Number').map((k) => textOf(k, 'Number'));
      // `<Dial>+1555…</Dial>` dials a bare number given as text.
      const bare = kids.map((k) => (typeof k['#text'] === 'string' ? k['#text'].trim() : ''));
      return {
        verb: 'Dial',
        sip,
        numbers: [...numbers, ...bare.filter(Boolean)],
        ...(attrs.action !== undefined && { action: attrs.action }),
      };
    }
    case 'Redirect':
      return { verb: 'Redirect', url: textOf(node, tag) };
    default:
      return { verb: 'Other', name: tag };
  }
}

/**
 * Parses a TwiML voice document into its verbs. Throws PB_ERR_SIM for what Twilio would
 * answer with "an application error has occurred" (error 12100: not XML, no `<Response>`).
 */
export function parseTwiml(xml: string): TwimlVerb[] {
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    throw new PbError('PB_ERR_SIM', `TwiML is not well-formed XML: ${valid.err.msg}`);
  }
  const doc = parser.parse(xml) as Node[];
  const root = doc.find((n) => tagOf(n) === 'Response');
  if (!root) throw new PbError('PB_ERR_SIM', 'TwiML has no <Response> root element');
  const verbs: TwimlVerb[] = [];
  for (const node of childrenOf(root, 'Response')) {
    const tag = tagOf(node);
    if (!tag || tag === '#text' || tag === '#comment') continue;
    verbs.push(parseVerb(node, tag));
  }
  return verbs;
}

/** A short human description of a verb, for the call report: `Connect>Stream(wss://…)`. */
export function describeVerb(v: TwimlVerb): string {
  switch (v.verb) {
    case 'Connect':
      return v.stream ? `Connect>Stream(${v.stream.url})` : `Connect>${v.nouns.join(',')}`;
    case 'Say':
      return `Say("${v.text}")`;
    case 'Pause':
      return `Pause(${v.lengthSeconds}s)`;
    case 'Reject':
      return `Reject(${v.reason})`;
    case 'Dial':
      return `Dial(${[...v.sip.map((s) => `Sip ${s}`), ...v.numbers].join(', ')})`;
    case 'Redirect':
      return `Redirect(${v.url})`;
    case 'Hangup':
      return 'Hangup';
    case 'Other':
      return v.name;
  }
}
