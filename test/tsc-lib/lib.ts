// lib/ against types/index.d.ts (npm run test:types): tsc reads lib/index.js as JavaScript (allowJs;
// not itself checked) and infers what each export is; each must fit what the typings declare.
import lib = require('../../lib/index.js');
import type * as Declared from '../../types/index';

type Lib = typeof lib;
type Decl = typeof Declared;

// none<X>() does not compile unless X is never: the error names what X holds.
declare function none<X extends never>(): void;

// The same names both ways: an export renamed, dropped or added on one side only.
none<Exclude<keyof Lib, keyof Decl>>();
none<Exclude<keyof Decl, keyof Lib>>();

// Parameters a function takes, optional ones counted (the last overload of a declared one).
type Arity<F> = F extends (...args: infer P) => unknown ? Required<P>['length'] : never;
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// The members of D whose parameter count differs in L.
type ArityDrift<L, D> = {
  [K in keyof D & keyof L]: Same<Arity<L[K]>, Arity<D[K]>> extends true ? never : K;
}[keyof D & keyof L];

none<ArityDrift<Lib, Decl>>();
none<ArityDrift<InstanceType<Lib['Dispatcher']>, Declared.Dispatcher>>();

// Each export, as lib/ makes it, is what the typings say (return types, class members).
export const createDispatcher: Decl['createDispatcher'] = lib.createDispatcher;
export const Dispatcher: Decl['Dispatcher'] = lib.Dispatcher;
export const closeOptimizely: Decl['closeOptimizely'] = lib.closeOptimizely;
export const dispatchEvent: Decl['dispatchEvent'] = lib.dispatchEvent;
export const setConnectionLimits: Decl['setConnectionLimits'] = lib.setConnectionLimits;
export const versions: Decl['versions'] = lib.versions;
export const pumpStats: Decl['pumpStats'] = lib.pumpStats;
export const DispatchError: Decl['DispatchError'] = lib.DispatchError;
export const createFetch: Decl['createFetch'] = lib.createFetch;
export const createSentryTransport: Decl['createSentryTransport'] = lib.createSentryTransport;
export const createOtlpTransport: Decl['createOtlpTransport'] = lib.createOtlpTransport;
// R only lets a consumer name the SDK's own Response type: lib/ answers the declared default.
export const createAmplitudeTransport: typeof Declared.createAmplitudeTransport<Declared.AmplitudeResponse> =
  lib.createAmplitudeTransport;
export const instrumentDispatcher: Decl['instrumentDispatcher'] = lib.instrumentDispatcher;
// An export added on both sides is added above too.
const fitted = {
  createDispatcher,
  Dispatcher,
  closeOptimizely,
  dispatchEvent,
  setConnectionLimits,
  versions,
  pumpStats,
  DispatchError,
  createFetch,
  createSentryTransport,
  createOtlpTransport,
  createAmplitudeTransport,
  instrumentDispatcher,
};
none<Exclude<keyof Decl, keyof typeof fitted>>();

// What the plain-object answers carry that the typings do not name (where tsc can tell: not `any`).
type Extra<L, D> = 0 extends 1 & L ? never : Exclude<keyof L, keyof D>;
type LibDispatcher = InstanceType<Lib['Dispatcher']>;
none<Extra<ReturnType<LibDispatcher['stats']>, Declared.DispatcherStats>>();
none<Extra<ReturnType<Lib['versions']>, Declared.Versions>>();
none<Extra<ReturnType<Lib['pumpStats']>, Declared.PumpStats>>();
