// tsc --strict against @amplitude/analytics-node's own types: createAmplitudeTransport is a
// transportProvider once it is told the SDK's Response type (an enum, which no literal matches).
import { createInstance, type Types } from '@amplitude/analytics-node';
import { createAmplitudeTransport } from 'native-event-dispatcher';

type Transport = NonNullable<Types.NodeOptions['transportProvider']>;
type AmplitudeResponse = NonNullable<Awaited<ReturnType<Transport['send']>>>;

const transportProvider: Transport = createAmplitudeTransport<AmplitudeResponse>({
  timeoutMs: 10000,
});
export const client = createInstance();
export const ready = client.init('api-key', { transportProvider }).promise;
