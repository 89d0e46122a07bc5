/**
 * Scrapes phonebridge's Prometheus endpoint for the two prom-client default process
 * metrics the load report needs: CPU seconds and resident memory.
 */
export interface ProcessSample {
  atMs: number;
  cpuSeconds: number;
  rssBytes: number;
}

/** Reads one metric's value (no labels) from Prometheus text exposition format. */
export function metricValue(text: string, name: string): number | undefined {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.eE+-]+)`, 'm').exec(text);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

/** GET /metrics once; undefined when the endpoint or either metric is missing. */
export async function scrapeProcess(
  metricsUrl: string,
  nowMs: number,
  signal?: AbortSignal,
): Promise<ProcessSample | undefined> {
  try {
    const res = await fetch(metricsUrl, {
      signal: signal
        ? AbortSignal.any([signal, AbortSignal.timeout(3000)])
        : AbortSignal.timeout(3000),
    });
    if (!res.ok) return undefined;
    const text = await res.text();
    const cpuSeconds = metricValue(text, 'process_cpu_seconds_total');
    const rssBytes = metricValue(text, 'process_resident_memory_bytes');
    if (cpuSeconds === undefined || rssBytes === undefined) return undefined;
    return { atMs: nowMs, cpuSeconds, rssBytes };
  } catch {
    return undefined;
  }
}
