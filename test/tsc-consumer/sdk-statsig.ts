// tsc against statsig-node's own types: its NetworkOverrideFunc promises a full DOM Response (a
// stream body, formData …), which createFetch's Response-like is not; the cast says so. At run
// time statsig-node reads ok, status, headers.get, json() and text() — what createFetch gives.
import statsig, { type NetworkOverrideFunc } from 'statsig-node';
import { createFetch } from 'native-event-dispatcher';

const networkOverrideFunc = createFetch() as unknown as NetworkOverrideFunc;
export const ready = statsig.initialize('secret-key', {
  networkOverrideFunc,
  disableDiagnostics: true,
});
