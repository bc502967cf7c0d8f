// A module an SDK's own declaration files import without depending on its types: posthog-node's
// optional Express middleware. With skipLibCheck off it would be an error in posthog-node's files.
declare module 'express';
