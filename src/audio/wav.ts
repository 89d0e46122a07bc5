/** Minimal RIFF/WAVE PCM16 reading and writing: prompts, recordings, test fixtures. */

export interface Pcm16Audio {
  sampleRateHz: number;
  channels: number;
  /** Interleaved samples. */
  samples: Int16Array;
}

/** Parses a PCM16 WAV (any rate, any channel count); throws on anything else. */
export function parseWav(data: Uint8Array): Pcm16Audio {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tag = (at: number) =>
    String.fromCharCode(data[at]!, data[at + 1]!, data[at + 2]!, data[at + 3]!);
  if (data.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE')
    throw new Error('not a RIFF/WAVE file');
  let fmt: { format: number; channels: number; rate: number; bits: number } | undefined;
  let offset = 12;
  while (offset + 8 <= data.length) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      fmt = {
        format: view.getUint16(body, true),
        channels: view.getUint16(body + 2, true),
        rate: view.getUint32(body + 4, true),
        bits: view.getUint16(body + 14, true),
      };
    } else if (id === 'data') {
      if (!fmt) throw new Error('WAV data chunk before fmt chunk');
      // 0xFFFE is WAVE_FORMAT_EXTENSIBLE, which sox and espeak-ng use for plain PCM too.
      if ((fmt.format !== 1 && fmt.format !== 0xfffe) || fmt.bits !== 16) {
        throw new Error(
          `unsupported WAV encoding (format ${fmt.format}, ${fmt.bits} bits): need PCM16`,
        );
      }
      // espeak-ng writes 0x7fffffff as the size when streaming to a pipe; trust the file length then.
      const end = Math.min(data.length, body + size);
      const count = Math.floor((end - body) / 2);
      const samples = new Int16Array(count);
      for (let i = 0; i < count; i++) samples[i] = view.getInt16(body + i * 2, true);
      return { sampleRateHz: fmt.rate, channels: fmt.channels, samples };
    }
    offset = body + size + (size % 2);
  }
  throw new Error('WAV file has no data chunk');
}

/** Serialises PCM16 as a canonical 44-byte-header WAV. */
export function encodeWav(audio: Pcm16Audio): Uint8Array {
  const bytes = audio.samples.length * 2;
  const out = new Uint8Array(44 + bytes);
  const view = new DataView(out.buffer);
  const put = (at: number, s: string) => {
    for (let i = 0; i < 4; i++) out[at + i] = s.charCodeAt(i);
  };
  put(0, 'RIFF');
  view.setUint32(4, 36 + bytes, true);
  put(8, 'WAVE');
  put(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, audio.channels, true);
  view.setUint32(24, audio.sampleRateHz, true);
  view.setUint32(28, audio.sampleRateHz * audio.channels * 2, true);
  view.setUint16(32, audio.channels * 2, true);
  view.setUint16(34, 16, true);
  put(36, 'data');
  view.setUint32(40, bytes, true);
  for (let i = 0; i < audio.samples.length; i++) view.setInt16(44 + i * 2, audio.samples[i]!, true);
  return out;
}
