/** Any sensor publishing `{"temperature": .., "humidity": ..}` as plain JSON. */
export default {
  title: 'JSON sensor',
  convention: 'plain-json',
  properties: {
    temperature: { type: 'number', unit: '°C' },
    humidity: { type: 'number', unit: '%' },
  },
};
