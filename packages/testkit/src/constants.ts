/** Defaults of the testkit; every one can be overridden where it is used. */

/** How long a relay may take to print its ready line (a loaded CI machine can be slow). */
export const DEFAULT_READY_TIMEOUT_MS = 30_000
/** How long a graceful stop (SIGTERM) may take before the relay is killed. */
export const DEFAULT_STOP_TIMEOUT_MS = 10_000
/** How long a status request may take. */
export const DEFAULT_STATUS_TIMEOUT_MS = 5_000
/** How long waitForViews() waits by default. */
export const DEFAULT_VIEWS_TIMEOUT_MS = 30_000
/** How often conditions that can only be polled (a relay's view) are checked. */
export const POLL_INTERVAL_MS = 100
/** The tail of a relay's stderr kept for error messages and stderr(). */
export const STDERR_TAIL_BYTES = 64 * 1024
