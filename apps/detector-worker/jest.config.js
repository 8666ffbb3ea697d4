/** @type {import('jest').Config} */
module.exports = {
  displayName: 'detector-worker',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
