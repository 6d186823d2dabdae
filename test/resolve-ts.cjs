// Jest loads globalSetup/globalTeardown through CommonJS require() without moduleNameMapper, so
// the ESM-style "./x.js" imports of our TypeScript sources must be resolved to "./x.ts" here.
const Module = require('node:module');
const original = Module._resolveFilename;
Module._resolveFilename = function resolveTs(request, parent, ...rest) {
  try {
    return original.call(this, request, parent, ...rest);
  } catch (error) {
    if (request.startsWith('.') && request.endsWith('.js')) {
      return original.call(this, `${request.slice(0, -3)}.ts`, parent, ...rest);
    }
    throw error;
  }
};
