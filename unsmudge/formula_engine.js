// The formula engine: Temml in Node's V8, in a process of its own (unsmudge/formulas.py, `Engine`).
//     node formula_engine.js temml.min.js
// Each question on stdin and each answer on stdout is an 8-byte little-endian length, then that many bytes of
// UTF-8. A question is `formulas \0 macros`: JSON [[tex, display], ...] and JSON {name: body}. The answer is
// JSON [[true, mathml] | [false, Temml's message], ...], one per formula; or, when Temml could not be loaded or
// failed as a whole, NUL and what went wrong, for every question. The engine ends when its stdin closes.
"use strict";
const fs = require("fs");
const vm = require("vm");

let failure = "";
try {
  vm.runInThisContext(fs.readFileSync(process.argv[2], "utf8"), {filename: process.argv[2]});  // defines `temml`
} catch (err) {
  failure = `Temml could not be loaded: ${err.name}: ${err.message}`;  // formulas.FIXES knows this start
}

function typesetPage(formulas, macros) {
  return JSON.stringify(JSON.parse(formulas).map(([tex, display]) => {
    try {  // each formula its own copy of the macros: a \gdef in one must not leak into the next
      return [true, temml.renderToString(tex, {displayMode: display, throwOnError: true, trust: false,
                                               macros: Object.assign({}, macros)})];
    } catch (err) {
      return [false, String(err.message || err)];
    }
  }));
}

function answer(question) {
  if (!failure) {
    const split = question.indexOf("\0");  // JSON holds no raw NUL
    try {
      return typesetPage(question.slice(0, split), JSON.parse(question.slice(split + 1)));
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
    const text = Buffer.from(answer(pending.toString("utf8", 8, 8 + size)), "utf8");
    pending = pending.subarray(8 + size);
    const head = Buffer.alloc(8);
    head.writeBigUInt64LE(BigInt(text.length));
    process.stdout.write(Buffer.concat([head, text]));  // in order; the build reads one answer per question
  }
});
process.stdin.on("end", () => process.exit(0));  // the build is done, or gone
process.stdout.on("error", () => process.exit(0));  // the build is gone before it read its answer
