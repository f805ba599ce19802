import { request } from './http.js';

/** Reads ipgate's `/metrics` into a map from series (name and labels) to value. */
export async function scrapeMetrics(baseUrl: string): Promise<Map<string, number>> {
  const response = await request(`${baseUrl}/metrics`);
  if (response.status !== 200) throw new Error(`/metrics answered ${response.status}`);
  const series = new Map<string, number>();
  for (const line of response.body.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const space = line.lastIndexOf(' ');
    series.set(line.slice(0, space), Number(line.slice(space + 1)));
  }
  return series;
}

/**
 * How many `/verify` decisions ipgate itself timed at more than `le` seconds (a bucket
 * bound of ipgate_decision_duration_seconds), and how many it made in all.
 */
export function decisionsSlowerThan(series: Map<string, number>, le: string) {
  let slower = 0;
  let total = 0;
  for (const source of ['memory', 'redis']) {
    const count = series.get(`ipgate_decision_duration_seconds_count{source="${source}"}`) ?? 0;
    const within = series.get(
      `ipgate_decision_duration_seconds_bucket{source="${source}",le="${le}"}`,
    );
    if (within === undefined) throw new Error(`no bucket le="${le}" for source ${source}`);
    slower += count - within;
    total += count;
  }
  return { slower, total };
}
