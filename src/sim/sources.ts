import { execFile } from 'node:child_process';
import { tone } from '../audio/analysis.js';
import { PbError } from '../errors.js';
import { burstTrain, type BurstPlan } from './probe.js';
import { parseWav, readWavAs8kMono, toMonoPcm16 } from '../audio/wav.js';

/** What the simulated caller says: every kind ends up as 8 kHz mono PCM16. */
export type AudioSourceSpec =
  | { kind: 'tone'; freqHz: number; durationMs: number }
  | { kind: 'wav'; path: string }
  | { kind: 'say'; text: string; voice?: string; espeakPath?: string }
  /** Tone bursts on a known schedule: the round-trip probe of load tests. */
  | ({ kind: 'bursts' } & BurstPlan)
  | { kind: 'pcm'; samples: Int16Array };

/** Renders `text` with an installed `espeak-ng` (a program, not a dependency) as 8 kHz PCM16. */
export async function renderSpeech(
  text: string,
  opts: { voice?: string; espeakPath?: string; signal?: AbortSignal } = {},
): Promise<Int16Array> {
  const bin = opts.espeakPath ?? 'espeak-ng';
  const wav = await new Promise<Buffer>((resolve, reject) => {
    execFile(
      bin,
      ['--stdout', '-v', opts.voice ?? 'en-us', '-s', '165', '--', text],
      { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024, signal: opts.signal },
      (err, stdout) => {
        if (!err) return resolve(stdout);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
          reject(
            new PbError(
              'PB_ERR_SIM',
              `--say needs the espeak-ng program, and '${bin}' was not found. Install it ` +
                '(Debian/Ubuntu: apt-get install -y espeak-ng; macOS: brew install espeak-ng), ' +
                'or give the caller audio with --wav FILE or --tone HZ instead.',
              { cause: err },
            ),
          );
        } else
          reject(new PbError('PB_ERR_SIM', `espeak-ng failed: ${err.message}`, { cause: err }));
      },
    );
  });
  return toMonoPcm16(parseWav(wav), 8000);
}

/** Produces the caller's audio for a source spec as 8 kHz mono PCM16. */
export async function loadSource(spec: AudioSourceSpec, signal?: AbortSignal): Promise<Int16Array> {
  switch (spec.kind) {
    case 'tone':
      return tone(spec.freqHz, spec.durationMs, 8000, 0.5);
    case 'wav':
      return readWavAs8kMono(spec.path);
    case 'say':
      return renderSpeech(spec.text, {
        ...(spec.voice !== undefined && { voice: spec.voice }),
        ...(spec.espeakPath !== undefined && { espeakPath: spec.espeakPath }),
        ...(signal !== undefined && { signal }),
      });
    case 'bursts':
      return burstTrain(spec);
    case 'pcm':
      return spec.samples;
  }
}
