'use strict';
// What a dispatcher tells: log lines (to its logger, credentials masked), a problem that is
// nobody's result (an 'error' event, or else a process warning once and the logger: never
// silent), listeners' events (a listener that throws is reported, and breaks nothing), and losses
// ('drop': never silent either). It owns the once-only warnings; `emitter` is the dispatcher.
const { redactUrl, redactText } = require('../redact');

// Marks a 'drop' listener that only counts losses (instrumentDispatcher's): it does not stand for
// someone hearing of them.
const COUNTS_ONLY = Symbol('counts only');

// What a drop or a failure came down to, in a few words: "ECONNREFUSED", "HTTP 503".
function causeOf(statusCode, failure) {
  if (failure) return failure.code;
  return statusCode > 0 ? `HTTP ${statusCode}` : undefined;
}

class Reports {
  constructor(emitter, logger) {
    this.emitter = emitter;
    this.logger = logger;
    this.warned = false;
    this.lossWarned = false;
  }

  log(level, message) {
    const { logger } = this;
    if (!logger) return;
    try {
      logger[level](`[native-event-dispatcher] ${redactText(message)}`);
    } catch {
      // a logger that throws must not break delivery
    }
  }

  // A problem that is nobody's result: an 'error' event, or else a process warning (once) and the
  // logger. Never silent.
  report(err) {
    const { emitter } = this;
    if (emitter.listenerCount('error') > 0) {
      try {
        emitter.emit('error', err);
      } catch (thrown) {
        this.log(
          'error',
          `an 'error' listener threw: ${thrown && thrown.stack ? thrown.stack : thrown}`,
        );
      }
      return;
    }
    this.log('error', err && err.stack ? err.stack : String(err));
    if (!this.warned) {
      this.warned = true;
      process.emitWarning(
        `native-event-dispatcher: ${redactText(err && err.message ? err.message : String(err))} (listen for 'error' on the dispatcher to handle these)`,
        { code: 'NED_DISPATCHER_ERROR' },
      );
    }
  }

  // Listeners hear of an event once its state has changed (settled, counted, out of memory), so
  // one that calls send() or throws finds the dispatcher consistent; a throw is reported like a
  // callback's, and never breaks a deadline, the counts or the caller.
  notify(name, info) {
    try {
      this.emitter.emit(name, info);
    } catch (err) {
      this.report(err);
    }
  }

  // `cause`: the few words that say why (a code, "HTTP 503", "maxQueueBytes", "ENOSPC"); by default
  // the last answer's. The URL is shown with its credentials masked.
  dropInfo({ reason, request, attempts, events, statusCode, error, cause }) {
    return {
      reason,
      httpVerb: request && request.method,
      url: request && redactUrl(request.href),
      body: request && request.body,
      attempts,
      events,
      statusCode: statusCode || undefined,
      code: error && error.code,
      cause: cause ?? causeOf(statusCode, error),
      error,
    };
  }

  drop(details, quiet = false) {
    const info = this.dropInfo(details);
    const why = info.cause ? `${info.reason}: ${info.cause}` : info.reason;
    const what = info.url ? `an event (${why}) for ${info.url}` : `a spooled event (${why})`;
    if (!quiet) this.log('warn', `dropped ${what} after ${info.attempts} attempt(s)`);
    // A loss is never silent: with nobody listening and no logger, the first one is a process
    // warning (the counts in stats() and close() hold the rest).
    if (
      !this.lossWarned &&
      !this.logger &&
      !this.emitter.listeners('drop').some((listener) => !listener[COUNTS_ONLY])
    ) {
      this.lossWarned = true;
      process.emitWarning(
        `native-event-dispatcher lost ${what}; listen for 'drop' or pass a logger to hear of every loss`,
        { code: 'NED_EVENT_LOST' },
      );
    }
    this.notify('drop', info);
  }
}

module.exports = { Reports, COUNTS_ONLY, causeOf };
