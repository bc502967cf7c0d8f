import { expectAssignable, expectError, expectType } from 'tsd';
import {
  dispatchEvent,
  DispatchError,
  DispatchResponse,
  setConnectionLimits,
  versions,
  pumpStats,
  ConnectionLimits,
  Versions,
  DispatchErrorCode,
} from '../..';

expectType<Promise<DispatchResponse>>(
  dispatchEvent('POST', 'http://127.0.0.1/v1/events', { a: 1 }),
);
expectType<Promise<DispatchResponse>>(
  dispatchEvent('get', new URL('http://127.0.0.1/'), { q: 'x' }, { timeoutMs: 100 }),
);
dispatchEvent('PUT', 'http://x/', '{"raw":true}', {
  headers: { 'x-a': 'b', 'x-n': 1 },
  resolve: ['a.test:443:127.0.0.1'],
});
dispatchEvent('PATCH', 'http://x/', Buffer.from('{}'), {
  proxy: false,
  http2: true,
  caFile: '/ca.pem',
});
dispatchEvent('POST', 'http://x/', new Uint8Array(2), null);

expectError(dispatchEvent('DELETE', 'http://x/', {}));
expectError(dispatchEvent('POST', 'http://x/', {}, { timeout: 5 }));
expectError(dispatchEvent('POST', 'http://x/', {}, { timeoutMs: '5' }));
expectError(dispatchEvent('POST', 'http://x/', {}, { proxy: true }));

dispatchEvent('POST', 'http://x/', {}).then(
  (res) => {
    expectType<number>(res.statusCode);
    expectType<string>(res.body);
    expectType<Record<string, string>>(res.headers);
  },
  (err: unknown) => {
    if (err instanceof DispatchError) {
      expectType<DispatchErrorCode>(err.code);
      expectType<number>(err.curlCode);
      expectType<number | undefined>(err.statusCode);
    }
  },
);

expectType<Required<ConnectionLimits>>(setConnectionLimits({ maxConnectionsPerHost: 8 }));
expectError(setConnectionLimits({ perHost: 8 }));
expectType<Versions>(versions());
expectType<boolean>(pumpStats().pumpRunning);
expectAssignable<Error>(new DispatchError());

// 0.2: the transport says which it is; the pump is one per process.
expectType<'native' | 'fallback'>(versions().transport);
expectType<string | null>(versions().binary);
expectType<number>(pumpStats().maxThreads);
expectType<number>(pumpStats().wakeups);
expectType<number>(pumpStats().bufferBytesKept);
expectType<number>(pumpStats().environment.pending);
dispatchEvent('POST', 'https://x/', {}, { captureStack: true });
dispatchEvent('POST', 'https://x/', {}).catch((err: DispatchError) =>
  expectType<string>(err.detail),
);
