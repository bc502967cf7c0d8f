'use strict';
// SpoolError: the spool's failures, each with a string `code`:
//   ERR_SPOOL_IO           the file system refused (ENOSPC, EIO, not a directory, a special
//                          filesystem)
//   ERR_SPOOL_PERMISSIONS  the root, or the way to it, is not this user's alone: another user's,
//                          writable by others, or through a symlink another user made (the spool
//                          holds user data)
//   ERR_SPOOL_CORRUPT      a record's line on disk is unreadable
//   ERR_SPOOL_NOT_LIVE     read() of a record that is acknowledged or not this spool's
//   ERR_SPOOL_CLOSED       append() or read() after close()
class SpoolError extends Error {
  constructor(message, code, cause) {
    super(message, cause ? { cause } : undefined);
    this.name = 'SpoolError';
    this.code = code;
  }
}

// An I/O failure: what we were doing, then the system's message.
function ioError(what, cause) {
  return new SpoolError(`${what}: ${cause.message}`, 'ERR_SPOOL_IO', cause);
}

module.exports = { SpoolError, ioError };
