/**
 * `node --require ./record-requires.cjs`: at exit, appends the path of every CommonJS
 * module the process loaded to the file named by PASARELA_LOADS_FILE, one a line
 * (record-loads.mjs sees ES module resolutions only; `require` goes around it).
 */
const { appendFileSync } = require('node:fs');

process.on('exit', () => {
  const file = process.env.PASARELA_LOADS_FILE;
  if (file) appendFileSync(file, Object.keys(require.cache).map((path) => `${path}\n`).join(''));
});
