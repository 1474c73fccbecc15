/** The registry checks PUT values and action inputs with the SDK's value check. */
export { checkValue } from '../../drivers/value-check.js';
