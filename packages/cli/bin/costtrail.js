#!/usr/bin/env node
// A committed entry point, so npm links `costtrail` at install time, before the build has
// produced dist/ (npm skips bins whose target does not exist yet).
import "../dist/bin.js";
