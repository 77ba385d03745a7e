// Checks `trestle graph` output with the real tools: every `.mmd` file must parse with
// Mermaid's own parser (npm `mermaid`, in jsdom), every `.dot` file must render with
// Graphviz (`dot -Tsvg`, when installed). Usage: node .ci/graphcheck.mjs FILE...
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { JSDOM } from 'jsdom';

const dom = new JSDOM('<!DOCTYPE html><body></body>');
globalThis.window = dom.window;
globalThis.document = dom.window.document;
const { default: mermaid } = await import('mermaid');
mermaid.initialize({ startOnLoad: false });

let hasDot = true;
try {
  execFileSync('dot', ['-V'], { stdio: 'ignore' });
} catch {
  hasDot = false;
}
let failed = 0;
let mmd = 0;
let dot = 0;
for (const file of process.argv.slice(2)) {
  const text = fs.readFileSync(file, 'utf8');
  try {
    if (file.endsWith('.mmd')) {
      const r = await mermaid.parse(text);
      if (r.diagramType !== 'flowchart-v2') throw new Error(`not a flowchart: ${r.diagramType}`);
      mmd++;
    } else if (file.endsWith('.dot') && hasDot) {
      const svg = execFileSync('dot', ['-Tsvg', file], { stdio: ['ignore', 'pipe', 'pipe'] });
      if (!svg.toString().includes('<svg')) throw new Error('no SVG');
      dot++;
    }
  } catch (e) {
    failed++;
    console.error(`${file}: ${String(e.message || e).split('\n').slice(0, 4).join('\n')}`);
  }
}
console.log(`graph: ${mmd} Mermaid files parsed, ${dot} DOT files rendered${hasDot ? '' : ' (Graphviz not installed: DOT skipped)'}`);
process.exit(failed ? 1 : 0);
