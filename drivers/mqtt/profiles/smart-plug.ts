/** A Tasmota smart plug with energy monitoring. */
export default {
  title: 'Smart plug',
  convention: 'tasmota',
  properties: {
    power: { type: 'boolean', writable: true, path: 'POWER', converter: 'on-off' },
    watts: { type: 'number', unit: 'W', path: 'ENERGY.Power' },
    voltage: { type: 'number', unit: 'V', path: 'ENERGY.Voltage' },
    energy: { type: 'number', unit: 'kWh', path: 'ENERGY.Total' },
  },
  actions: {
    toggle: { title: 'Toggle the relay', command: 'POWER', payload: 'TOGGLE', confirm: 'power' },
  },
  events: {
    button: { title: 'Button pressed', path: 'Button1.Action', data: { type: 'string' } },
  },
};
