'use strict';
// The README's Optimizely v4/v5 example, runnable: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node examples/optimizely-v5.js
// The tests run it with the v5 SDK installed under an npm alias; in your app it is '@optimizely/optimizely-sdk' 4.x or 5.x.
const fs = require('node:fs');
const path = require('node:path');
const Module = require('node:module');

// Lets `require('@optimizely/optimizely-sdk')` below find v5 in this repository (an npm alias).
const realResolve = Module._resolveFilename;
Module._resolveFilename = function resolve(request, ...rest) {
  return realResolve.call(this, request === '@optimizely/optimizely-sdk' ? 'optimizely-sdk-v5' : request, ...rest);
};
const datafile = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'demo', 'datafile.json'), 'utf8'));

async function main() {
  // #region readme
  const optimizely = require('@optimizely/optimizely-sdk'); // 4.x or 5.x
  const { createDispatcher, closeOptimizely } = require('native-event-dispatcher');

  const dispatcher = createDispatcher({ endpoint: process.env.EVENT_ENDPOINT });
  const client = optimizely.createInstance({
    datafile, // or sdkKey: process.env.OPTIMIZELY_SDK_KEY
    eventDispatcher: dispatcher, // called with a callback: called exactly once per event
  });
  await client.onReady();

  client.createUserContext('user-123', { plan: 'pro' }).decide('checkout_flow');

  const summary = await closeOptimizely(client, dispatcher);
  console.log(summary); // { delivered: 1, spooled: 0, lost: 0, failed: 0 }
  // #endregion
  return summary;
}

main().then((summary) => { process.exitCode = summary.delivered > 0 && summary.lost === 0 ? 0 : 1; }, (err) => {
  console.error(err);
  process.exitCode = 1;
});
