'use strict';
// Amplitude (@amplitude/analytics-node): a transportProvider on the pump.
//   amplitude.init(apiKey, { transportProvider: createAmplitudeTransport(options) })
// `send(serverUrl, payload)` posts the payload as JSON and builds the SDK's Response from the
// body's `code` (not the HTTP status), as its own Node transport does: the SDK's Destination
// reads that Response to retry, split (413), throttle (429) or drop events, so it needs the real
// answer — there is no durable mode here.
const { createFetch } = require('../fetch');
const { invalid, isPlainObject } = require('../errors');

// The Response bodies of @amplitude/analytics-core's BaseTransport.buildResponse: field, wire
// name, and the empty value it defaults to (a fresh one per Response).
const BODIES = {
  success: [
    ['eventsIngested', 'events_ingested', 0],
    ['payloadSizeBytes', 'payload_size_bytes', 0],
    ['serverUploadTime', 'server_upload_time', 0],
  ],
  invalid: [
    ['error', 'error', ''],
    ['missingField', 'missing_field', ''],
    ['eventsWithInvalidFields', 'events_with_invalid_fields', 'object'],
    ['eventsWithMissingFields', 'events_with_missing_fields', 'object'],
    ['eventsWithInvalidIdLengths', 'events_with_invalid_id_lengths', 'object'],
    ['epsThreshold', 'eps_threshold', 0],
    ['exceededDailyQuotaDevices', 'exceeded_daily_quota_devices', 'object'],
    ['silencedDevices', 'silenced_devices', 'array'],
    ['silencedEvents', 'silenced_events', 'array'],
    ['throttledDevices', 'throttled_devices', 'object'],
    ['throttledEvents', 'throttled_events', 'array'],
  ],
  payload_too_large: [['error', 'error', '']],
  rate_limit: [
    ['error', 'error', ''],
    ['epsThreshold', 'eps_threshold', 0],
    ['throttledDevices', 'throttled_devices', 'object'],
    ['throttledUsers', 'throttled_users', 'object'],
    ['exceededDailyQuotaDevices', 'exceeded_daily_quota_devices', 'object'],
    ['exceededDailyQuotaUsers', 'exceeded_daily_quota_users', 'object'],
    ['throttledEvents', 'throttled_events', 'array'],
  ],
};

// Amplitude's Status values (analytics-core's enum, by value).
function statusOf(code) {
  if (code >= 200 && code < 300) return 'success';
  if (code === 429) return 'rate_limit';
  if (code === 413) return 'payload_too_large';
  if (code === 408) return 'Timeout';
  if (code >= 400 && code < 500) return 'invalid';
  if (code >= 500) return 'failed';
  return 'unknown';
}

function emptyOf(kind) {
  if (kind === 'object') return {};
  if (kind === 'array') return [];
  return kind;
}

/** @returns {import('../../types').AmplitudeResponse} (its body is built from BODIES) */
function buildResponse(json) {
  const statusCode = json.code || 0;
  const status = statusOf(statusCode);
  const fields = BODIES[status];
  if (fields === undefined) return { status, statusCode };
  const body = {};
  for (const [field, wire, empty] of fields) body[field] = json[wire] ?? emptyOf(empty);
  return { status, statusCode, body };
}

class AmplitudeFetchTransport {
  constructor(fetch) {
    this.fetch = fetch;
  }

  // Never rejects: the SDK drops a batch on null and retries on 408 and code 0, as with its own.
  async send(serverUrl, payload) {
    let response;
    try {
      response = await this.fetch(serverUrl, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(payload),
      });
    } catch (err) {
      const code = err.cause && err.cause.code;
      if (code === 'ETIMEDOUT') return buildResponse({ code: 408 });
      // Lost after the answer began: transient, and Amplitude deduplicates by insert_id.
      if (code === 'ECONNRESET' && err.cause.statusCode > 0) return buildResponse({ code: 0 });
      return null; // never reached the server: the SDK's own transport drops these too
    }
    let json;
    try {
      json = JSON.parse(await response.text());
    } catch {
      json = undefined;
    }
    return buildResponse(
      json !== null && typeof json === 'object' ? json : { code: response.status },
    );
  }
}

// createAmplitudeTransport(fetch options) → a transportProvider
function createAmplitudeTransport(options) {
  if (options !== undefined && options !== null && !isPlainObject(options)) {
    throw invalid(TypeError, 'ERR_INVALID_ARG_TYPE', 'options', 'a plain object', options);
  }
  return new AmplitudeFetchTransport(createFetch(options || {}));
}

module.exports = { createAmplitudeTransport, buildResponse };
