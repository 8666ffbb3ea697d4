/** @type {import('jest').Config} */
module.exports = {
  displayName: 'embedder-worker',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
