'use strict';
// Handing one request to a dispatcher for durable delivery (its retries, its spool), for adapters
// whose SDK does not depend on the real answer. The SDK hears "accepted" as soon as the dispatcher
// holds the request — journaled first when it has a spoolDir — and the dispatcher owns it from
// then on: delivered, failed, spooled or dropped, every ending counted and reported by it.
const { invalid } = require('../errors');
const { unknownOption } = require('../transport/options');
const { FETCH_OPTIONS } = require('../fetch');

const ACCEPTED = Symbol('accepted');

// Resolves once the dispatcher took the request; rejects when it refused it (a closed dispatcher
// without a spool, an invalid request). The dispatcher settles a refusal before send() returns,
// so the race below sees it first; an accepted request's promise is still pending then.
async function handOver(dispatcher, method, url, body) {
  const result = dispatcher.send(method, url, body);
  const first = await Promise.race([result, ACCEPTED]);
  if (first === ACCEPTED) result.catch(() => {}); // endings are the dispatcher's to report
  return first;
}

// An adapter's options: its `own` names or the fetch options, nothing else (with the closest known
// name); with a dispatcher, only `withDispatcher` — the dispatcher has its own transport options,
// retries and headers, so anything more would be ignored.
function checkAdapterOptions(options, own, withDispatcher) {
  const names = [...new Set([...own, ...FETCH_OPTIONS])];
  for (const key of Object.keys(options)) if (!names.includes(key)) throw unknownOption(key, names);
  if (options.dispatcher === undefined) return;
  const extra = Object.keys(options).find(
    (key) => !withDispatcher.includes(key) && options[key] !== undefined,
  );
  if (extra !== undefined) {
    throw invalid(
      TypeError,
      'ERR_INVALID_ARG_VALUE',
      'options',
      'either a dispatcher or transport options (the dispatcher has its own)',
      extra,
    );
  }
}

module.exports = { checkAdapterOptions, handOver, ACCEPTED };
