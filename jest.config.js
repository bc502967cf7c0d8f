'use strict';
module.exports = {
  testEnvironment: 'node',
  testMatch: ['<rootDir>/test/**/*.test.js'],
  modulePathIgnorePatterns: ['<rootDir>/build-asan/', '<rootDir>/build/'],
  testTimeout: 30000,
};
