/** @type {import('jest').Config} */
module.exports = {
  displayName: 'e2e',
  preset: '../jest.preset.js',
  testTimeout: 300000,
  // Each spec runs the whole service (and the fault specs kill parts of it): one at a time.
  maxWorkers: 1,
};
