/** @type {import('jest').Config} */
module.exports = {
  displayName: 'face-index',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
