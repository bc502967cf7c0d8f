'use strict';
// The README's transport example, runnable: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node examples/transport.js

async function main() {
  const url = process.env.EVENT_ENDPOINT || 'http://127.0.0.1:8080/v1/events';
  const eventBatch = { visitors: [] };
  // #region readme
  const { dispatchEvent, DispatchError } = require('native-event-dispatcher');

  try {
    const res = await dispatchEvent('POST', url, eventBatch, { timeoutMs: 5000 });
    console.log(res.statusCode, res.headers['content-type'], res.body); // any HTTP status resolves
  } catch (err) {
    if (!(err instanceof DispatchError)) throw err; // TypeError/RangeError: bad input
    console.error(err.code, err.curlCode, err.message); // e.g. ECONNREFUSED 7 POST http://…
  }
  // #endregion
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
