// The ES module entry (lib/index.mjs) exports the names types/index.d.mts declares, both ways.
import * as esm from '../../lib/index.mjs';
import type * as Declared from '../../types/index.d.mts';

declare function none<X extends never>(): void;

none<Exclude<keyof typeof esm, keyof typeof Declared>>();
none<Exclude<keyof typeof Declared, keyof typeof esm>>();
