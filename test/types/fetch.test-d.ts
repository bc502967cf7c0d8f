import { expectAssignable, expectError, expectType } from 'tsd';
import {
  createFetch,
  createSentryTransport,
  createOtlpTransport,
  createAmplitudeTransport,
  createDispatcher,
  Fetch,
  FetchResponse,
  OtlpExportResponse,
  AmplitudeResponse,
  SentryRequestExecutor,
  SentryResponse,
} from '../..';

const fetch = createFetch({
  timeoutMs: 5000,
  maxResponseBytes: 1 << 20,
  headers: { authorization: 'Bearer x' },
});
expectType<Fetch>(fetch);
expectType<Promise<FetchResponse>>(fetch('http://127.0.0.1/flags'));
fetch(new URL('http://127.0.0.1/'), {
  method: 'POST',
  body: new Uint8Array(3),
  headers: [['a', 'b']],
  signal: AbortSignal.timeout(10),
});
fetch('http://x/', { method: 'PUT', body: new Blob(['x']), headers: new Headers({ a: 'b' }) });
fetch('http://x/', { method: 'POST', body: new URLSearchParams({ a: '1' }) });
expectError(createFetch({ timings: true }));
expectError(createFetch({ maxResponseBytes: '1' }));
expectError(fetch('http://x/', { body: 42 }));

fetch('http://x/').then(async (res) => {
  expectType<number>(res.status);
  expectType<boolean>(res.ok);
  expectType<string | null>(res.headers.get('retry-after'));
  expectType<string[]>(res.headers.getSetCookie());
  expectType<null>(res.body);
  expectType<string>(await res.text());
  expectType<ArrayBuffer>(await res.arrayBuffer());
  expectType<FetchResponse>(res.clone());
  for (const [name, value] of res.headers) expectType<[string, string]>([name, value]);
});

const dispatcher = createDispatcher();
declare function createTransport(
  options: { recordDroppedEvent(): void },
  makeRequest: SentryRequestExecutor,
): { flush(): void };
const transport = createSentryTransport(createTransport, { timeoutMs: 1000 });
expectType<{ flush(): void }>(transport({ url: 'http://x/', recordDroppedEvent() {} }));
createSentryTransport(createTransport, { dispatcher });
expectError(createSentryTransport(createTransport, { dispatcher, bogus: 1 }));
expectAssignable<SentryResponse>({
  statusCode: 429,
  headers: { 'x-sentry-rate-limits': '60::org', 'retry-after': null },
});

const otlp = createOtlpTransport({
  url: 'http://x/v1/traces',
  retries: 0,
  headers: () => ({ a: 'b' }),
});
expectType<Promise<OtlpExportResponse>>(otlp.send(new Uint8Array(1), 1000));
createOtlpTransport({ url: 'http://x/v1/traces', dispatcher });
expectError(createOtlpTransport({ retries: 1 }));

const amplitude = createAmplitudeTransport({ timeoutMs: 1000 });
expectType<Promise<AmplitudeResponse | null>>(
  amplitude.send('http://x/2/httpapi', { api_key: 'k', events: [] }),
);
