// tsc --strict against @segment/analytics-node's own types: createFetch() is an httpClient.
import { Analytics, type AnalyticsSettings, type HTTPFetchFn } from '@segment/analytics-node';
import { createFetch } from 'native-event-dispatcher';

const httpClient: HTTPFetchFn = createFetch({ timeoutMs: 10000 });
const settings: AnalyticsSettings = { writeKey: 'write-key', httpClient };
export const analytics = new Analytics(settings);
