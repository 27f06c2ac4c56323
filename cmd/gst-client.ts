#!/usr/bin/env node
import { runMain } from './run-main.js'
import { runPipeBinary } from './pipe-cli.js'

runMain('gst-client', () => runPipeBinary('gst-client', process.argv))
