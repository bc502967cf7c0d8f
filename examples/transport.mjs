// One request, no retries. Run: EVENT_ENDPOINT=http://127.0.0.1:8080/v1/events node transport.mjs
import { dispatchEvent, DispatchError } from 'native-event-dispatcher';

const url = process.env.EVENT_ENDPOINT ?? 'http://127.0.0.1:8080/v1/events';

try {
  const res = await dispatchEvent('POST', url, { visitors: [] }, { timeoutMs: 5000 });
  console.log(res.statusCode, res.headers['content-type'], res.body); // any HTTP status resolves
} catch (err) {
  if (!(err instanceof DispatchError)) throw err; // TypeError/RangeError: bad input
  console.error(err.code, err.curlCode, err.message); // e.g. ECONNREFUSED 7 POST http://…
}
