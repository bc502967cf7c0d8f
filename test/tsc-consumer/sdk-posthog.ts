// tsc --strict against posthog-node's own types: createFetch() is its `fetch` (gzip bodies, flags).
import { PostHog } from 'posthog-node';
import { createFetch } from 'native-event-dispatcher';

type PostHogFetch = NonNullable<ConstructorParameters<typeof PostHog>[1]>['fetch'];
const fetch: PostHogFetch = createFetch();
export const posthog = new PostHog('phc_project_token', {
  host: 'https://eu.i.posthog.com',
  fetch,
});
