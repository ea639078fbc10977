#!/usr/bin/env node
// Tiny dual-era stdio reference server built on @modelcontextprotocol/server 2.4.0, serving the
// fixture tools of v2/ref-tools.mjs (see there for REF_CHAIN_VERIFY_MS and REF_FAULTS).
//
// usage: node v2/ref-server.mjs        (speaks MCP on stdin/stdout; logs on stderr)
// env:   REF_TENANT  serve only this tenant's rows (acme or globex; default: every row)

import { serveStdio } from '@modelcontextprotocol/server/stdio';
import { makeServer } from './ref-tools.mjs';

const tenant = process.env.REF_TENANT || undefined;
serveStdio(() => makeServer(tenant), {
  onerror: (e) => process.stderr.write(`ref-server: ${String(e?.message ?? e).replace(/\s+/g, ' ').slice(0, 200)}\n`),
});
