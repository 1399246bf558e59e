'use strict';
// require('spindle'): spindle is an ES module; Node >= 20.19 (and 22.12+)
// loads it with require() (require(esm)). On an older Node, say what to do
// instead of ERR_REQUIRE_ESM.
try {
  module.exports = require('../dist/src/index.js');
} catch (e) {
  if (e && e.code === 'ERR_REQUIRE_ESM') {
    const err = new Error(
      `spindle: require('spindle') needs Node >= 20.19 (require() of ES modules); this is Node ${process.version}. ` +
        "Upgrade Node, or load it with import: const { Runtime } = await import('spindle').",
      { cause: e },
    );
    err.code = 'ERR_SPINDLE_UNSUPPORTED_SETUP';
    throw err;
  }
  throw e;
}
