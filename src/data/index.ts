export * from './generate.js';
export * from './samples.js';
