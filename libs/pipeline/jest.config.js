/** @type {import('jest').Config} */
module.exports = {
  displayName: 'pipeline',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
