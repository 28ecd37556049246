// Test helper: a module that fails as it loads (stack.js requires it).
const cfg = undefined;
module.exports = cfg.name; // LINE:broken
