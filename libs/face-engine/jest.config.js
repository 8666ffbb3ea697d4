/** @type {import('jest').Config} */
module.exports = {
  displayName: 'face-engine',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
