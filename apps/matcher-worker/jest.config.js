/** @type {import('jest').Config} */
module.exports = {
  displayName: 'matcher-worker',
  preset: '../../jest.preset.js',
  passWithNoTests: true,
};
