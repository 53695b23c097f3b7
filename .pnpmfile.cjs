// better-sqlite3 has no downloadable prebuilt binary here, so it compiles
// against Node's headers. pnpm ignores `nodedir` in .npmrc, so point node-gyp
// at the running Node's install prefix when its headers are there.
const fs = require('node:fs');
const path = require('node:path');

const prefix = path.resolve(path.dirname(process.execPath), '..');
const hasHeaders = fs.existsSync(path.join(prefix, 'include', 'node', 'node_api.h'));

module.exports = {
  hooks: {
    updateConfig(config) {
      if (hasHeaders && !process.env.npm_config_nodedir) {
        config.extraEnv = { ...(config.extraEnv ?? {}), npm_config_nodedir: prefix };
      }
      return config;
    },
  },
};
