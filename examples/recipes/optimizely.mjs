// The Optimizely client the recipes share, made as an app makes it once, in a module of its own:
// the datafile of the example project beside these files (../datafile.json), or yours with
// OPTIMIZELY_DATAFILE. In production, createPollingProjectConfigManager({ sdkKey }) downloads it
// (and keeps it fresh) instead. Each recipe chooses the event processor: a batch processor where
// the process lives on, a forwarding one where an instance can be frozen between requests.
import { readFile } from 'node:fs/promises';
import { createInstance, createStaticProjectConfigManager } from '@optimizely/optimizely-sdk';

export async function createOptimizely(eventProcessor) {
  const datafile = await readFile(
    process.env.OPTIMIZELY_DATAFILE ?? new URL('../datafile.json', import.meta.url),
    'utf8',
  );
  const client = createInstance({
    projectConfigManager: createStaticProjectConfigManager({ datafile }),
    eventProcessor,
  });
  await client.onReady();
  return client;
}
