#!/usr/bin/env node
// hclcheck: every generated Terraform file must parse with HashiCorp's HCL parser and be left
// unchanged by HashiCorp's formatter (hclwrite's Format: the layout rules of `terraform fmt`,
// which on top of them only unwraps "${x}" attribute values, quotes block labels and modernises
// variable types; trestle's writer does those too).
//
// Usage:  node .ci/hclcheck.js PATH...
//   PATH is a .tf file or a directory; directories are walked for every *.tf below them.
//   A file X.tf with a sibling X.expected.json must also parse to exactly that JSON (hcl2json's
//   representation, where a literal "${" reads "$${"): that is how the Rust tests check that
//   hostile strings survive as the exact literal.
// Needs the npm packages @cdktf/hcl-tools and @cdktf/hcl2json (WASM builds of HashiCorp's Go
// code; no network at run time), e.g.:
//   npm install --prefix .ci/node @cdktf/hcl-tools@0.21.0 @cdktf/hcl2json@0.21.0
//   NODE_PATH=.ci/node/node_modules node .ci/hclcheck.js out/
// The hclwrite inside @cdktf/hcl-tools 0.21.0 predates provider-defined functions: it writes
// `provider::aws::arn_parse(x)` as `provider : : aws : : arn_parse(x)`, so this check rejects
// such calls even though `terraform fmt` (1.8+) keeps them.
// Exit 0 with "hcl: N files parsed and canonically formatted", else 1 with a diff per file.
"use strict";

const fs = require("fs");
const path = require("path");
const util = require("util");

function load(name) {
  try {
    return require(name);
  } catch (e) {
    console.error(`hclcheck: cannot load ${name}: install it with npm and point NODE_PATH at its node_modules`);
    process.exit(1);
  }
}

function collect(p, out) {
  const st = fs.statSync(p);
  if (st.isDirectory()) {
    for (const name of fs.readdirSync(p).sort()) {
      const child = path.join(p, name);
      if (fs.statSync(child).isDirectory() || name.endsWith(".tf")) collect(child, out);
    }
  } else {
    out.push(p);
  }
}

// JSON with object keys sorted, so that a diff shows only real differences.
function canonicalJson(value) {
  const sort = (v) =>
    Array.isArray(v)
      ? v.map(sort)
      : v && typeof v === "object"
        ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, sort(v[k])]))
        : v;
  return JSON.stringify(sort(value), null, 2);
}

// A line diff (longest common subsequence) printed as unified-style hunks with 3 lines of context.
function diff(aText, bText, aName, bName) {
  const a = aText.split("\n");
  const b = bText.split("\n");
  const n = a.length;
  const m = b.length;
  const lcs = Array.from({ length: n + 1 }, () => new Int32Array(m + 1));
  for (let i = n - 1; i >= 0; i--) {
    for (let j = m - 1; j >= 0; j--) {
      lcs[i][j] = a[i] === b[j] ? lcs[i + 1][j + 1] + 1 : Math.max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  const ops = []; // [kind, text, index in a, index in b] before the op
  let i = 0;
  let j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] === b[j]) ops.push([" ", a[i++], i - 1, j++]);
    else if (i < n && (j === m || lcs[i + 1][j] >= lcs[i][j + 1])) ops.push(["-", a[i++], i - 1, j]);
    else ops.push(["+", b[j++], i, j - 1]);
  }
  // Tabs and trailing spaces are what formatting differences are often made of: show them.
  const show = (s) => s.replace(/\t/g, "\\t").replace(/ +$/, (sp) => "\u00b7".repeat(sp.length));
  const lines = [`--- ${aName}`, `+++ ${bName}`];
  let k = 0;
  let shown = 0;
  while (k < ops.length) {
    if (ops[k][0] === " ") { k++; continue; }
    const start = Math.max(shown, k - 3);
    let end = k;
    while (end < ops.length) {
      if (ops[end][0] !== " ") { end++; continue; }
      let run = end;
      while (run < ops.length && ops[run][0] === " ") run++;
      if (run - end > 6 || run === ops.length) { end = Math.min(run, end + 3); break; }
      end = run;
    }
    lines.push(`@@ -${ops[start][2] + 1} +${ops[start][3] + 1} @@`);
    for (let x = start; x < end; x++) lines.push(ops[x][0] + show(ops[x][1]));
    k = end;
    shown = end;
  }
  return lines.join("\n");
}

async function main() {
  const args = process.argv.slice(2);
  if (args.length === 0) {
    console.error("usage: node .ci/hclcheck.js FILE.tf|DIR...");
    process.exit(1);
  }
  const files = [];
  for (const a of args) {
    if (!fs.existsSync(a)) {
      console.error(`hclcheck: ${a}: no such file or directory`);
      process.exit(1);
    }
    collect(a, files);
  }
  if (files.length === 0) {
    console.error(`hclcheck: no .tf files under ${args.join(" ")}`);
    process.exit(1);
  }
  const { format } = load("@cdktf/hcl-tools");
  const { parse } = load("@cdktf/hcl2json");
  let failed = 0;
  for (const file of files) {
    const text = fs.readFileSync(file, "utf8");
    let parsed;
    try {
      parsed = await parse(path.basename(file), text);
    } catch (e) {
      console.log(`${file}: does not parse: ${e && e.message ? e.message : e}`);
      failed++;
      continue;
    }
    const formatted = await format(text);
    if (formatted !== text) {
      console.log(`${file}: not canonically formatted`);
      console.log(diff(text, formatted, file, `${file} (formatted)`));
      failed++;
      continue;
    }
    const expectedFile = file.replace(/\.tf$/, ".expected.json");
    if (fs.existsSync(expectedFile)) {
      const expected = JSON.parse(fs.readFileSync(expectedFile, "utf8"));
      if (!util.isDeepStrictEqual(parsed, expected)) {
        console.log(`${file}: parses to something other than ${expectedFile}`);
        console.log(diff(canonicalJson(expected), canonicalJson(parsed), expectedFile, `${file} (parsed)`));
        failed++;
      }
    }
  }
  if (failed > 0) {
    console.log(`hcl: ${failed} of ${files.length} files failed`);
    process.exit(1);
  }
  console.log(`hcl: ${files.length} files parsed and canonically formatted`);
}

main().then(
  // The Go WASM runtime keeps the event loop alive; leave explicitly.
  () => process.exit(process.exitCode || 0),
  (e) => {
    console.error(`hclcheck: ${e && e.stack ? e.stack : e}`);
    process.exit(1);
  },
);
