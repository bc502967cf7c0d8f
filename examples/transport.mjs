// One request, no retries. Run: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node transport.mjs
// (no collector of your own? From a clone, `npm run collector` starts one there.)
import { dispatchEvent, DispatchError } from 'native-event-dispatcher';

const url = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';
if (!process.env.EVENT_ENDPOINT)
  console.warn(
    `EVENT_ENDPOINT is not set: sending to ${url} (start a collector there with npm run collector)`,
  );

try {
  const res = await dispatchEvent('POST', url, { visitors: [] }, { timeoutMs: 5000 });
  // Any HTTP status resolves: 204 (no body) from a collector, 400 and its reason from a strict one.
  console.log(res.statusCode, res.body === '' ? '(no body)' : res.body);
} catch (err) {
  if (!(err instanceof DispatchError)) throw err; // TypeError/RangeError: bad input
  console.error(err.code, err.curlCode, err.message); // e.g. ECONNREFUSED 7 POST http://…
}
