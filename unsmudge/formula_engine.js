// The formula engine: Temml in Node's V8, in a process of its own (unsmudge/formulas.py, `Engine`).
//     node formula_engine.js temml.min.js
// Each message on stdin and each answer on stdout is an 8-byte little-endian length, then that many bytes of
// UTF-8. A question is `formulas \0 macros`: JSON [[tex, display], ...] and JSON {name: body}. The answer is
// JSON [[true, mathml] | [false, Temml's message], ...], one per formula; or, when Temml could not be loaded or
// failed as a whole, NUL and what went wrong, for every question. Two other messages are JSON objects:
// {"ahead": {"folder", "lessons", "macros"}} asks for no answer (below); {"counts": true} is answered with JSON
// {"ahead", "used"}: formulas typeset ahead, and how many of them a question asked for. The engine ends when its
// stdin closes.
"use strict";
const fs = require("fs");
const path = require("path");
const vm = require("vm");

let failure = "";
try {
  vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"), {filename: process.argv[2]});  // defines `temml`
} catch (err) {
  failure = `Temml could not be loaded: ${err.name}: ${err.message}`;  // formulas.FIXES knows this start
}

function typeset(tex, display, macros) {  // the answer, as JSON: a flat string, cheap to keep (below)
  try {  // each formula its own copy of the macros: a \gdef in one must not leak into the next
    return JSON.stringify([true, temml.renderToString(tex, {displayMode: display, throwOnError: true, trust: false,
                                                            macros: Object.assign({}, macros)})]);
  } catch (err) {
    return JSON.stringify([false, String(err.message || err)]);
  }
}

// Typesetting ahead. A first build names its lessons (`folder`/<id>.md, in course order) as it starts, and
// the engine reads them for the formulas they most likely hold, in their usual forms, and typesets those while
// the build imports its modules and reads the course, on a CPU that is idle then. A question finds its answer
// made; what was found here and never asked for (a dollar in a code block) costs only time, and a formula
// missed here is typeset when asked: every answer is Temml's for exactly what the question asks.
const DISPLAY = /\$\$([^]+?)\$\$|\\begin\{([a-z]+\*?)\}[^]*?\\end\{\2\}/g;
const INLINE = /(?<![\\$])\$(?!\s)((?:\\.|[^\\$])+?)(?<!\s)\$(?![\d$])/g;  // Pandoc's rule, as markdown.py's
const found = new Map();  // key -> [tex, display, macros]: found, not typeset yet
const order = [];  // the keys found, in the lessons' order; `next` is the first not typeset yet
let next = 0;
const made = new Map();  // key -> answer: typeset ahead, not asked for yet
const counts = {ahead: 0, used: 0};
const key = (tex, display, macrosText) => `${macrosText}\0${display ? "display" : "inline"}\0${tex}`;

function lookAhead({folder, lessons, macros: macrosText}) {
  const macros = JSON.parse(macrosText);
  const find = (tex, display) => {
    tex = tex.trim();
    const k = key(tex, display, macrosText);
    if (tex && !found.has(k) && !made.has(k)) {
      found.set(k, [tex, display, macros]);
      order.push(k);
    }
  };
  for (const id of lessons) {
    let text;
    try {
      text = fs.readFileSync(path.join(folder, `${id}.md`), "utf8").replace(/\r\n?/g, "\n");
    } catch {
      continue;  // a notebook, or a lesson the build will say it cannot read
    }
    const rest = text.replace(DISPLAY, (whole, dollars) => { find(dollars ?? whole, true); return " "; });
    for (const inline of rest.matchAll(INLINE)) find(inline[1], false);
  }
  setImmediate(typesetSome);
}

function typesetSome() {  // a few at a time: a question waiting on stdin is answered in between
  for (let left = 16; left > 0 && next < order.length; next++) {
    const k = order[next], formula = found.get(k);
    if (formula === undefined) continue;  // asked for before its turn came
    found.delete(k);
    made.set(k, typeset(...formula));
    counts.ahead++;
    left--;
  }
  if (next < order.length) setImmediate(typesetSome);
}

function typesetPage(formulas, macrosText) {
  const macros = JSON.parse(macrosText);
  return "[" + JSON.parse(formulas).map(([tex, display]) => {
    const k = key(tex, display, macrosText);
    const answer = made.get(k);
    if (answer !== undefined) {
      made.delete(k);
      counts.used++;
      return answer;
    }
    found.delete(k);  // asked before its turn came: typeset now, not twice
    return typeset(tex, display, macros);
  }).join(",") + "]";
}

function answer(message) {
  if (message.startsWith("{")) {  // a question starts with its formulas' "["
    const {ahead} = JSON.parse(message);
    if (!ahead) return JSON.stringify(counts);
    if (!failure) lookAhead(ahead);
    return null;
  }
  if (!failure) {
    const split = message.indexOf("\0");  // JSON holds no raw NUL
    try {
      return typesetPage(message.slice(0, split), message.slice(split + 1));
    } catch (err) {  // out of memory, say: a message for the build, not a stack trace here
      failure = `V8 failed: ${err.name}: ${err.message}`;
    }
  }
  return "\0" + failure;
}

let pending = Buffer.alloc(0);
process.stdin.on("data", (chunk) => {
  pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
  while (pending.length >= 8) {
    const size = Number(pending.readBigUInt64LE(0));
    if (pending.length < 8 + size) break;
    const reply = answer(pending.toString("utf8", 8, 8 + size));
    pending = pending.subarray(8 + size);
    if (reply === null) continue;
    const text = Buffer.from(reply, "utf8");
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(text.length));
    process.stdout.write(Buffer.concat([head, text]));  // in order; the build reads one answer per question
  }
});
process.stdin.on("end", () => process.exit(0));  // the build is done, or gone
process.stdout.on("error", () => process.exit(0));  // the build is gone before it read its answer
