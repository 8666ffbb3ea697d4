/** @type {import('jest').Config} */
module.exports = {
  displayName: 'demo',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
