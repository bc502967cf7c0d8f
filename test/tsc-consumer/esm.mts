// ESM consumers get the same types through package.json "exports".
import { createDispatcher, dispatchEvent, type DispatchResult } from 'native-event-dispatcher';
import native from 'native-event-dispatcher';

const dispatcher = createDispatcher();
export const result: Promise<DispatchResult> = dispatcher.send('POST', 'http://127.0.0.1/', {});
export const response = dispatchEvent('POST', 'http://127.0.0.1/', {});
export const same: typeof createDispatcher = native.createDispatcher;
