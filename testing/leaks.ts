/**
 * Handles a stopped driver must not leave behind: timers, sockets, servers, pipes,
 * terminals and file watchers, counted with `process.getActiveResourcesInfo()`.
 */
type Counts = Record<string, number>;

const WATCHED = ['Timeout', 'TCPSocketWrap', 'TCPServerWrap', 'PipeWrap', 'TTYWrap', 'FSEvent'];

export function activeResources(): Counts {
  const counts: Counts = {};
  for (const type of process.getActiveResourcesInfo()) {
    if (WATCHED.includes(type)) counts[type] = (counts[type] ?? 0) + 1;
  }
  return counts;
}

function leaks(baseline: Counts): Counts {
  const extra: Counts = {};
  for (const [type, count] of Object.entries(activeResources())) {
    if (count > (baseline[type] ?? 0)) extra[type] = count - (baseline[type] ?? 0);
  }
  return extra;
}

/** Polls until nothing is left above the baseline; after `ms`, resolves with what is still there. */
export async function leftAfter(baseline: Counts, ms: number): Promise<Counts> {
  const giveUp = Date.now() + ms;
  let extra = leaks(baseline);
  while (Object.keys(extra).length > 0 && Date.now() < giveUp) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    extra = leaks(baseline);
  }
  return extra;
}
