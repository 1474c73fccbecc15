/**
 * Which Home Assistant sensor a numeric property is: its device class from the unit
 * (and, for `%`, the name), and its state class. Data, in the spirit of a profile.
 * Units are the ones Home Assistant accepts for each class.
 */

interface SensorClass {
  device_class?: string;
  /** `measurement` unless said otherwise; energy only ever grows. */
  state_class?: 'measurement' | 'total' | 'total_increasing';
}

const BY_UNIT: Readonly<Record<string, SensorClass>> = {
  '°C': { device_class: 'temperature' },
  '°F': { device_class: 'temperature' },
  K: { device_class: 'temperature' },
  W: { device_class: 'power' },
  kW: { device_class: 'power' },
  Wh: { device_class: 'energy', state_class: 'total_increasing' },
  kWh: { device_class: 'energy', state_class: 'total_increasing' },
  V: { device_class: 'voltage' },
  mV: { device_class: 'voltage' },
  A: { device_class: 'current' },
  mA: { device_class: 'current' },
  Pa: { device_class: 'pressure' },
  hPa: { device_class: 'pressure' },
  kPa: { device_class: 'pressure' },
  bar: { device_class: 'pressure' },
  mbar: { device_class: 'pressure' },
  lx: { device_class: 'illuminance' },
  dBm: { device_class: 'signal_strength' },
  Hz: { device_class: 'frequency' },
  'm/s': { device_class: 'speed' },
  'km/h': { device_class: 'speed' },
  ms: { device_class: 'duration' },
  s: { device_class: 'duration' },
  min: { device_class: 'duration' },
  h: { device_class: 'duration' },
  mm: { device_class: 'distance' },
  cm: { device_class: 'distance' },
  m: { device_class: 'distance' },
  km: { device_class: 'distance' },
  ppm: { device_class: 'carbon_dioxide' },
};

/** `%` means many things; the property's name tells which. */
const PERCENT_BY_NAME: readonly [RegExp, string][] = [
  [/humid/i, 'humidity'],
  [/batter/i, 'battery'],
  [/moist/i, 'moisture'],
];

/** The sensor classes of a numeric property (nothing known: a plain measurement). */
export function sensorClass(name: string, unit: string | undefined): Required<Pick<SensorClass, 'state_class'>> & SensorClass {
  if (unit === '%') {
    const found = PERCENT_BY_NAME.find(([pattern]) => pattern.test(name));
    return found ? { device_class: found[1], state_class: 'measurement' } : { state_class: 'measurement' };
  }
  const known = unit === undefined ? undefined : BY_UNIT[unit];
  return { ...known, state_class: known?.state_class ?? 'measurement' };
}

/** The device class a writable number shares with its sensor (numbers take no state class). */
export function numberClass(name: string, unit: string | undefined): string | undefined {
  return sensorClass(name, unit).device_class;
}
