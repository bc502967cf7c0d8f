'use strict';
// The README's Optimizely v6 example, runnable: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node examples/optimizely-v6.js
// (without EVENT_ENDPOINT the events go to Optimizely's own endpoint).
const fs = require('node:fs');
const path = require('node:path');

const datafile = fs.readFileSync(path.join(__dirname, '..', 'demo', 'datafile.json'), 'utf8');

async function main() {
  // #region readme
  const optimizely = require('@optimizely/optimizely-sdk');
  const { createDispatcher, closeOptimizely } = require('native-event-dispatcher');

  const dispatcher = createDispatcher({
    endpoint: process.env.EVENT_ENDPOINT, // optional: a relay or collector instead of logx.optimizely.com
    spoolDir: process.env.EVENT_SPOOL_DIR, // optional: a directory, for nothing lost across crashes
  });
  const client = optimizely.createInstance({
    // or createPollingProjectConfigManager({ sdkKey: process.env.OPTIMIZELY_SDK_KEY })
    projectConfigManager: optimizely.createStaticProjectConfigManager({ datafile }),
    eventProcessor: optimizely.createBatchEventProcessor({
      eventDispatcher: dispatcher,
      closingEventDispatcher: dispatcher,
      maxRetries: 0, // the dispatcher retries; see "The SDK's own retries"
    }),
  });
  await client.onReady();

  const user = client.createUserContext('user-123', { plan: 'pro' });
  const decision = user.decide('checkout_flow');
  user.trackEvent('purchase', { revenue: 4200 });

  // At shutdown: the client first, then the dispatcher (see "Shutdown").
  const summary = await closeOptimizely(client, dispatcher);
  console.log(decision.variationKey, summary); // e.g. treatment { delivered: 1, spooled: 0, lost: 0, failed: 0 }
  // #endregion
  return summary;
}

main().then((summary) => { process.exitCode = summary.delivered > 0 && summary.lost === 0 ? 0 : 1; }, (err) => {
  console.error(err);
  process.exitCode = 1;
});
