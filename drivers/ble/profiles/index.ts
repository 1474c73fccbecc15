/** GATT profiles by name, as a config's `profile:` names them. Adding a model = adding one file here. */
import { coffeeMaker } from './coffee-maker.js';

export const builtinProfiles: Readonly<Record<string, unknown>> = {
  'coffee-maker': coffeeMaker,
};
