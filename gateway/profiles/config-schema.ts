/**
 * The `profiles:` section: device models as data files, paths or patterns relative to
 * the config file's folder (`profiles: [./profiles/*.yaml, ./thermometer.json]`).
 */
import { z } from 'zod';

export const profilesSchema = z.array(z.string().min(1)).default([]);
