/** Mono PCM16 audio with its rate. */
export interface Pcm16 {
  samples: Int16Array;
  sampleRateHz: number;
}

/**
 * Reads a RIFF/WAVE file holding mono 16-bit PCM, the only format our prompts use
 * (scripts/render-prompts.sh writes it). Anything else is rejected, not converted.
 */
export function parseWav(buf: Buffer, name = 'wav'): Pcm16 {
  if (buf.toString('ascii', 0, 4) !== 'RIFF' || buf.toString('ascii', 8, 12) !== 'WAVE') {
    throw new Error(`${name}: not a RIFF/WAVE file`);
  }
  let off = 12;
  let rate = 0;
  while (off + 8 <= buf.length) {
    const id = buf.toString('ascii', off, off + 4);
    const size = buf.readUInt32LE(off + 4);
    const body = off + 8;
    if (id === 'fmt ') {
      const format = buf.readUInt16LE(body);
      const channels = buf.readUInt16LE(body + 2);
      rate = buf.readUInt32LE(body + 4);
      const bits = buf.readUInt16LE(body + 14);
      if (format !== 1 || channels !== 1 || bits !== 16) {
        throw new Error(
          `${name}: need mono 16-bit PCM, got format ${format}, ${channels} ch, ${bits} bit`,
        );
      }
    } else if (id === 'data') {
      if (!rate) throw new Error(`${name}: data before fmt chunk`);
      const bytes = Math.min(size, buf.length - body) & ~1;
      // Copy: the Buffer may be a slice of a shared pool with an odd byte offset.
      const samples = new Int16Array(bytes / 2);
      for (let i = 0; i < samples.length; i++) samples[i] = buf.readInt16LE(body + i * 2);
      return { samples, sampleRateHz: rate };
    }
    off = body + size + (size & 1); // chunks are word-aligned
  }
  throw new Error(`${name}: no data chunk`);
}
