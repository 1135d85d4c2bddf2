#!/usr/bin/env node
// Entry point installed as `filewarden`; the CLI is compiled to dist/ by `npm run build`.
'use strict';
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'cli', 'src', 'main.js');
if (!fs.existsSync(main)) {
  console.error(`filewarden: ${main} is missing; build it first with: npm run build`);
  process.exit(1);
}
require(main).main(process.argv);
