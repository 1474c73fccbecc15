/** The registry checks PUT values and action inputs (defaults filled in first) with the SDK's value check. */
export { applyDefaults, checkValue } from '../../drivers/value-check.js';
