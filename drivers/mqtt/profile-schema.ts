/**
 * What an MQTT profile adds to the common profile: its topic convention, where each
 * property sits in the state documents, and the command each write or action sends.
 */
import { z } from 'zod';
import { loadProfile, ProfileError, type Profile } from '../profile.js';

export const CONVENTIONS = ['plain-json', 'tasmota'] as const;

export const mqttExtension = {
  profile: {
    /** The topic convention of devices with this profile. */
    convention: z.enum(CONVENTIONS),
  },
  property: {
    /** JSON path of the value in the state documents (default: the property's name). */
    path: z.string().min(1).optional(),
    /** Tasmota command that writes it (default: the path's first element). */
    command: z.string().min(1).optional(),
  },
  action: {
    /** Command name (Tasmota) or field of the `set` document (plain JSON); default: the action's name. */
    command: z.string().min(1).optional(),
    /** Sent when the call has no input, e.g. `TOGGLE`. */
    payload: z.unknown().optional(),
    /** A property whose next report completes the action (its value is the output); without it, the broker's acknowledgement does. */
    confirm: z.string().min(1).optional(),
    /** JSON path in the input of the value `confirm` must report (e.g. `offset`); without it, the next report on a reply topic counts. */
    expect: z.string().min(1).optional(),
  },
  event: {
    /** JSON path in the state documents whose presence raises the event (its value is the data). */
    path: z.string().min(1),
  },
};

export type MqttProfile = Profile<
  typeof mqttExtension.profile,
  typeof mqttExtension.property,
  typeof mqttExtension.action,
  typeof mqttExtension.event
>;

/** Validates an MQTT profile; errors name the profile and the field. */
export function loadMqttProfile(name: string, data: unknown): MqttProfile {
  const profile = loadProfile(name, data, mqttExtension);
  for (const [action, spec] of Object.entries(profile.actions)) {
    if (spec.confirm !== undefined && !Object.hasOwn(profile.properties, spec.confirm)) {
      throw new ProfileError(name, [`actions.${action}.confirm: no property "${spec.confirm}"`]);
    }
  }
  return profile;
}
