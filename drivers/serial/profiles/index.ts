/** The line protocol profiles that ship with the serial driver, by name. */
import { robotLine } from './robot-line.js';

export const builtinLineProfiles: Readonly<Record<string, unknown>> = {
  'robot-line': robotLine,
};
