#!/usr/bin/env node
// spindle-worker: serve a BullMQ queue with a local spindle runtime (see docs/distributed.md).
import '../dist/src/bullmq/cli.js';
