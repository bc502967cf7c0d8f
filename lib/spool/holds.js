'use strict';
// Slot holds: the one place the spool meets the addon. The native addon holds each slot this
// process makes (an flock on its directory, let go with the environment — the main thread or a
// worker — that took it): a slot this process owns but nobody holds was left by a terminated
// worker. Seen by every copy of the addon in the process. The fallback cannot lock: `available`
// is false, and such a slot waits for the process to end.
const backend = require('../binding');

const native = typeof backend.holdSlot === 'function' ? backend : null;

module.exports = {
  available: native !== null,
  // Takes the hold on `dir` → whether it is held now (false without the addon).
  take: (dir) => native !== null && native.holdSlot(dir, true),
  // Lets go of it (nothing without the addon).
  letGo: (dir) => {
    if (native !== null) native.holdSlot(dir, false);
  },
  // Whether any environment of this process holds `dir`.
  isHeld: (dir) => native !== null && native.slotHeld(dir),
};
