/* unsmudge live mode: the embedded model draws in the page, step by step, offline.
 *
 * A classic script (no modules, no fetch, no workers), so it works from file:// as from any host. Nothing
 * loads until the learner asks, by going to type a prompt (pointerdown or focus on the field: the model then
 * loads while they type) or by pressing Draw: then these classic scripts are added to the page,
 *   live-<key>/captions.js          the captions the model knows (unsmudge/precompute/export.py): the
 *                                   suggestions, and a prompt is checked before anything large loads
 *   ort.wasm.min.js                 onnxruntime-web's JavaScript API (vendored from npm; sets `ort`)
 *   ort-wasm-simd-threaded.js       its WebAssembly runtime: the glue module as text and the binary gzipped
 *   live-<key>/model.js             the model: each part's graph (optimised at export) and its weights in
 *                                   fixed point, gzipped; tokenizer, schedule
 * each storing its payload in `self.unsmudgeLive`. The glue is imported from a data: URL and the binary
 * handed to onnxruntime (`env.wasm.wasmBinary`): a page on file:// can do neither fetch nor import a file.
 * So a live page's Content-Security-Policy adds exactly `'wasm-unsafe-eval'` and `data:` to script-src.
 *
 * The arithmetic is precompute's (unsmudge/precompute/capture.py through diffusers), so that the same
 * prompt, seed and guidance give the same frames (tests/browser/test_draw.py):
 *   noise      torch.randn(1, 4, 16, 16, generator=torch.Generator("cpu").manual_seed(seed)): torch's
 *              mt19937 and its Box-Muller over blocks of 16 (`torchRandn`)
 *   prompt     CLIP's byte-level BPE, padded with the end token (`Tokenizer`); the unconditional half
 *              is the negative prompt (empty by default), as diffusers batches it: [negative, prompt]
 *   each step  e = e_neg + guidance * (e_prompt - e_neg); x0 = c*x + d*e; x = a*x + b*e, with the
 *              coefficients the exporter read off the model's own DDIM scheduler (`schedule`)
 *   pictures   the VAE decoder, then round((v / 2 + 0.5) clamped to [0, 1] * 255), as diffusers does
 * Every step is one task (the U-Net's batch of two), then the page gets the main thread back: it stays
 * responsive while the model draws.
 *
 * In the page (partials/demo.html, for a demo with draw = true): the [data-draw] root is the demo's slider
 * app, holding the Draw form and the first panel's canvas (`canvas[data-draw-output]`). A run is a frame source
 * for the slider (`LiveFrames`, the interface slider.js documents), given to panel 0 when its first frame is
 * in: the frames appear step by step in the same slider, with the same T labels, views and play buttons, and
 * stay scrubbable; the image, latent and noise views fill as the run goes, prediction and forward are decoded
 * after it. Picking a precomputed prompt gives the panel its sheets back (and stops a run still drawing).
 */
(function () {
  "use strict";

  var LIVE = "unsmudgeLive";
  var SUGGESTIONS = 5;

  function registry() {
    window[LIVE] = window[LIVE] || {};
    return window[LIVE];
  }

  /* ---------- loading: classic scripts only ---------- */

  var scripts = {};
  function loadScript(src) {
    if (!scripts[src]) {
      scripts[src] = new Promise(function (resolve, reject) {
        var node = document.createElement("script");
        node.src = src;
        node.async = false;
        node.onload = function () { resolve(); };
        node.onerror = function () { delete scripts[src]; reject(new Error("could not load " + src)); };
        document.head.appendChild(node);
      });
    }
    return scripts[src];
  }

  function base64Bytes(text) {
    if (Uint8Array.fromBase64) return Uint8Array.fromBase64(text); // native: 5-10x faster than the loop below
    var binary = atob(text);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return bytes;
  }

  /* base64 of gzip bytes (export.packed) -> the bytes, inflated by the browser itself */
  function unpack(text) {
    var stream = new Blob([base64Bytes(text)]).stream().pipeThrough(new DecompressionStream("gzip"));
    return new Response(stream).arrayBuffer().then(function (buffer) { return new Uint8Array(buffer); });
  }

  function supported() {
    return typeof WebAssembly === "object" && typeof DecompressionStream === "function" &&
      typeof Promise === "function";
  }

  var runtime = null;
  /* onnxruntime-web, set up for one thread on the main thread (threads need cross-origin isolation,
   * which neither file:// nor GitHub Pages gives; the proxy worker cannot start from file://). */
  function loadRuntime(urls) {
    if (!runtime) {
      runtime = loadScript(urls.ort).then(function () {
        return loadScript(urls.wasm);
      }).then(function () {
        var wasm = registry().runtime;
        if (!window.ort || !wasm) throw new Error("the runtime scripts did not load");
        return unpack(wasm.wasm).then(function (binary) {
          var env = window.ort.env.wasm;
          env.numThreads = 1;
          env.proxy = false;
          env.wasmBinary = binary.buffer;
          env.wasmPaths = { mjs: "data:text/javascript;base64," + wasm.glue };
          return window.ort;
        });
      });
      runtime.catch(function () { runtime = null; });
    }
    return runtime;
  }

  /* ---------- the tokenizer: CLIP's byte-level BPE ---------- */

  function byteSymbols() {
    var bytes = [], chars = [], extra = 0, b;
    for (b = 33; b <= 126; b++) bytes.push(b);
    for (b = 161; b <= 172; b++) bytes.push(b);
    for (b = 174; b <= 255; b++) bytes.push(b);
    chars = bytes.slice();
    for (b = 0; b < 256; b++) {
      if (bytes.indexOf(b) < 0) { bytes.push(b); chars.push(256 + extra); extra++; }
    }
    var table = new Array(256);
    for (var i = 0; i < bytes.length; i++) table[bytes[i]] = String.fromCharCode(chars[i]);
    return table;
  }

  var BOS_TEXT = "<|startoftext|>", EOS_TEXT = "<|endoftext|>";
  // CLIP's pre-tokenizer: special tokens, contractions, runs of letters, single digits, runs of other symbols
  var PIECES = /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+/gu;

  function Tokenizer(data) {
    this.vocab = data.vocab;
    this.length = data.max_length;
    this.bos = data.bos;
    this.eos = data.eos;
    this.ranks = new Map();
    for (var i = 0; i < data.merges.length; i++) this.ranks.set(data.merges[i], i);
    this.bytes = byteSymbols();
    this.encoder = new TextEncoder();
    this.cache = new Map();
  }

  /* a word's symbols merged pair by pair, lowest rank first (as in CLIP and `tokenizers`) */
  Tokenizer.prototype.bpe = function (piece) {
    var cached = this.cache.get(piece);
    if (cached) return cached;
    var utf8 = this.encoder.encode(piece), word = [];
    for (var i = 0; i < utf8.length; i++) word.push(this.bytes[utf8[i]]);
    word[word.length - 1] += "</w>";
    while (word.length > 1) {
      var best = -1, bestRank = Infinity;
      for (var j = 0; j < word.length - 1; j++) {
        var rank = this.ranks.get(word[j] + " " + word[j + 1]);
        if (rank !== undefined && rank < bestRank) { bestRank = rank; best = j; }
      }
      if (best < 0) break;
      var first = word[best], second = word[best + 1], merged = [];
      for (var k = 0; k < word.length; k++) {
        if (k < word.length - 1 && word[k] === first && word[k + 1] === second) {
          merged.push(first + second);
          k++;
        } else {
          merged.push(word[k]);
        }
      }
      word = merged;
    }
    this.cache.set(piece, word);
    return word;
  };

  /* the ids the pipeline's tokenizer gives: begin, at most length - 2 tokens, end, padded with end */
  Tokenizer.prototype.encode = function (text) {
    // lowercased a character at a time, as `tokenizers` does: no final-sigma rule ("ΣΑΣ" -> "σασ")
    var clean = Array.from(String(text).normalize("NFC").replace(/\s+/g, " "), function (c) {
      return c.toLowerCase();
    }).join("");
    var ids = [], pieces = clean.match(PIECES) || [];
    for (var i = 0; i < pieces.length; i++) {
      if (pieces[i] === BOS_TEXT) { ids.push(this.bos); continue; }
      if (pieces[i] === EOS_TEXT) { ids.push(this.eos); continue; }
      var tokens = this.bpe(pieces[i]);
      for (var j = 0; j < tokens.length; j++) {
        var id = this.vocab[tokens[j]];
        ids.push(id === undefined ? this.eos : id);
      }
    }
    ids = ids.slice(0, this.length - 2);
    var out = new Int32Array(this.length).fill(this.eos);
    out[0] = this.bos;
    out.set(ids, 1);
    return out;
  };

  /* ---------- the initial noise: torch.randn on the CPU ---------- */

  function MersenneTwister(seed) {
    var state = new Uint32Array(624);
    state[0] = seed >>> 0;
    for (var i = 1; i < 624; i++) {
      var prev = state[i - 1] ^ (state[i - 1] >>> 30);
      state[i] = (Math.imul(1812433253, prev) + i) >>> 0;
    }
    this.state = state;
    this.index = 624;
  }

  MersenneTwister.prototype.next = function () {
    var s = this.state, y, i;
    if (this.index >= 624) {
      for (i = 0; i < 624; i++) {
        y = (s[i] & 0x80000000) | (s[(i + 1) % 624] & 0x7fffffff);
        s[i] = s[(i + 397) % 624] ^ (y >>> 1) ^ ((y & 1) ? 0x9908b0df : 0);
      }
      this.index = 0;
    }
    y = s[this.index++];
    y ^= y >>> 11;
    y ^= (y << 7) & 0x9d2c5680;
    y ^= (y << 15) & 0xefc60000;
    y ^= y >>> 18;
    return y >>> 0;
  };

  /* torch's CPU normal_fill for float32 (count >= 16): uniforms of 24 bits, then Box-Muller on each block
   * of 16 (the first 8 as u1, the last 8 as u2); a ragged tail redraws and refills the last 16. */
  function torchRandn(seed, count) {
    var twister = new MersenneTwister(lowBits(seed));
    var uniform = new Float32Array(count);
    var i;
    for (i = 0; i < count; i++) uniform[i] = (twister.next() & 0xffffff) / 16777216;
    var out = new Float32Array(count);
    var fill = function (start) {
      for (var j = 0; j < 8; j++) {
        var u1 = Math.fround(1 - uniform[start + j]), u2 = uniform[start + j + 8];
        var radius = Math.sqrt(-2 * Math.log(u1)), theta = 2 * Math.PI * u2;
        out[start + j] = radius * Math.cos(theta);
        out[start + j + 8] = radius * Math.sin(theta);
      }
    };
    for (i = 0; i + 16 <= count; i += 16) fill(i);
    if (count % 16) {
      for (i = count - 16; i < count; i++) uniform[i] = (twister.next() & 0xffffff) / 16777216;
      fill(count - 16);
    }
    return out;
  }

  function lowBits(seed) { // torch seeds its mt19937 with the seed's low 32 bits
    return Number(BigInt.asUintN(32, BigInt(seed)));
  }

  /* capture.forward_seed: the forward view's noise, fixed by the run's seed */
  function forwardSeed(seed) {
    return (BigInt(seed) * 1000003n + 7919n) % (1n << 63n);
  }

  /* ---------- vocabulary: what the model knows ---------- */

  function normalise(text) {
    return String(text).normalize("NFC").toLowerCase().replace(/\s+/g, " ").trim();
  }

  function trigrams(text) {
    var padded = "  " + text + " ", grams = new Map();
    for (var i = 0; i + 3 <= padded.length; i++) {
      var g = padded.slice(i, i + 3);
      grams.set(g, (grams.get(g) || 0) + 1);
    }
    return grams;
  }

  function Vocabulary(captions) {
    this.captions = captions;
    this.known = new Set(captions);
    this.words = new Set();
    this.grams = [];
    for (var i = 0; i < captions.length; i++) {
      var words = captions[i].split(" ");
      for (var j = 0; j < words.length; j++) this.words.add(words[j]);
      this.grams.push(trigrams(captions[i]));
    }
  }

  /* Does the model know this prompt? `known`: it is one of the captions it learned; `unknown`: its words
   * no caption uses; `nearest`: the captions most like it (shared trigrams, Dice), best first. */
  Vocabulary.prototype.check = function (prompt, count) {
    var text = normalise(prompt);
    var self = this;
    var unknown = text ? text.split(" ").filter(function (w) { return !self.words.has(w); }) : [];
    var known = this.known.has(text);
    var nearest = [];
    if (text && !known) {
      var mine = trigrams(text), size = 0;
      mine.forEach(function (n) { size += n; });
      var scored = [];
      for (var i = 0; i < this.captions.length; i++) {
        var theirs = this.grams[i], shared = 0, total = size;
        theirs.forEach(function (n, g) { total += n; if (mine.has(g)) shared += Math.min(n, mine.get(g)); });
        if (shared) scored.push([2 * shared / total, this.captions[i]]);
      }
      scored.sort(function (a, b) { return b[0] - a[0] || (a[1] < b[1] ? -1 : 1); });
      nearest = scored.slice(0, count || SUGGESTIONS).map(function (s) { return s[1]; });
    }
    return { prompt: text, known: known, unknown: unknown, nearest: nearest };
  };

  /* ---------- the model ---------- */

  var PARTS = ["text_encoder", "decoder", "unet"]; // in the order a run first needs them
  // the export optimised each graph already (export.optimised): onnxruntime takes it as it is
  var SESSION = { executionProviders: ["wasm"], graphOptimizationLevel: "disabled" };

  /* A part's ONNX bytes, its weights written in (export.store_weights): the graph came with each stored
   * weight's values cut out; they go back at their offsets as high * (scale * 2^(bits-8)) + low * scale,
   * each product and the sum rounded to float32, as DequantizeLinear and Add compute them. */
  function partBytes(part) {
    if (!part.weights.length) return unpack(part.graph);
    return Promise.all([unpack(part.graph), unpack(part.high), part.low ? unpack(part.low) : null,
      unpack(part.scale)]).then(function (bytes) {
      var pieces = bytes[0], graph = new Uint8Array(part.size), high = new Int8Array(bytes[1].buffer);
      var low = bytes[2], scale = new Float32Array(bytes[3].buffer), step = Math.pow(2, part.bits - 8);
      var taken = 0, end = 0, at = 0, first = 0;
      part.weights.forEach(function (weight) {
        var offset = weight[0], count = weight[1], channels = weight[2], stride = weight[3];
        graph.set(pieces.subarray(taken, taken + offset - end), end); // the graph up to this weight
        taken += offset - end;
        var values = new Float32Array(count);
        for (var block = 0, i = 0; i < count; block++) { // `stride` values in a row share a channel
          var s = scale[first + block % channels], high_s = s * step;
          for (var stop = i + stride; i < stop; i++) {
            values[i] = low ? Math.fround(high[at + i] * high_s) + Math.fround(low[at + i] * s) : high[at + i] * s;
          }
        }
        graph.set(new Uint8Array(values.buffer), offset); // at any offset: a Float32Array could not view it
        end = offset + 4 * count;
        at += count;
        first += channels;
      });
      graph.set(pieces.subarray(taken), end);
      return graph;
    });
  }

  /* The model: its parts' sessions are created one after the other, each in a task of its own (typing in
   * the page goes on meanwhile), in the order a run needs them: a run waits only for the part it needs next.
   * `loaded` resolves when all are. */
  function Model(ort, data) {
    this.ort = ort;
    this.data = data;
    this.tokenizer = new Tokenizer(data.tokenizer);
    this.latent = data.latent;
    this.count = data.latent[0] * data.latent[1] * data.latent[2];
    var sessions = this.sessions = {}, previous = Promise.resolve();
    PARTS.forEach(function (name) {
      previous = sessions[name] = previous.then(yieldToPage).then(function () {
        return partBytes(data.parts[name]);
      }).then(function (bytes) { return ort.InferenceSession.create(bytes, SESSION); });
      previous.catch(function () {}); // reported where it is awaited
    });
    this.loaded = Promise.all(PARTS.map(function (name) { return sessions[name]; }));
  }

  /* a payload the export's classic script `src` stores as `self.unsmudgeLive[name]` */
  function loadData(name, src) {
    return loadScript(src).then(function () {
      var data = registry()[name];
      if (!data) throw new Error(src + " holds no " + name);
      return data;
    });
  }

  var vocabularies = {};
  function loadVocabulary(key, src) {
    if (!vocabularies[key]) {
      vocabularies[key] = loadData(key + ":captions", src).then(function (captions) {
        return new Vocabulary(captions);
      });
      vocabularies[key].catch(function () { delete vocabularies[key]; });
    }
    return vocabularies[key];
  }

  var models = {};
  /* the model of `key` (its script `src`), with the runtime from `urls`, once its data and the runtime are in
   * (its sessions follow: `model.loaded`) */
  function load(urls, key, src) {
    if (!models[key]) {
      models[key] = Promise.all([loadRuntime(urls), loadData(key, src)]).then(function (loaded) {
        var model = new Model(loaded[0], loaded[1]);
        model.loaded.catch(function () { delete models[key]; }); // a part failed: the next Draw tries again
        return model;
      });
      models[key].catch(function () { delete models[key]; });
    }
    return models[key];
  }

  Model.prototype.tensor = function (values, shape) {
    return new this.ort.Tensor(values instanceof Int32Array ? "int32" : "float32", values, shape);
  };

  Model.prototype.encodePrompt = async function (prompt) {
    var length = this.tokenizer.length;
    var ids = new Int32Array(2 * length);
    ids.set(this.tokenizer.encode(this.data.negative_prompt), 0);
    ids.set(this.tokenizer.encode(prompt), length);
    var result = await (await this.sessions.text_encoder).run({ input_ids: this.tensor(ids, [2, length]) });
    return result.out;
  };

  /* One run: calls onStep(step) with step = {index, t, x} for the initial noise (index 0) and after every
   * step, giving the page the thread back between steps; each step's `x0` (the predicted picture) and
   * `noise` (the guided noise the model saw in x) are set when the next step has run (the last step's
   * noise is zero: none is left at T = 0, as precompute's noise view shows). Resolves with every step, or
   * null when `signal.cancelled` stopped it. */
  Model.prototype.run = async function (options, onStep, signal) {
    var s = this.data.schedule, n = this.count, latent = this.latent;
    var guidance = options.guidance, shape = [2].concat(latent);
    var hidden = await this.encodePrompt(options.prompt);
    var noise = torchRandn(options.seed, n);
    var x = new Float32Array(n);
    for (var k = 0; k < n; k++) x[k] = noise[k] * s.init_noise_sigma;
    var steps = [{ index: 0, t: s.timesteps[0], x: x, x0: null, noise: null }];
    await onStep(steps[0]);
    for (var i = 0; i < s.timesteps.length; i++) {
      await yieldToPage();
      if (signal && signal.cancelled) return null;
      var t = s.timesteps[i];
      var batch = new Float32Array(2 * n);
      batch.set(x, 0);
      batch.set(x, n);
      var out = await (await this.sessions.unet).run({ sample: this.tensor(batch, shape),
        timestep: this.tensor(new Float32Array([t]), [1]), encoder_hidden_states: hidden });
      var e = out.out.data, next = new Float32Array(n), x0 = new Float32Array(n), guided = new Float32Array(n);
      for (k = 0; k < n; k++) {
        guided[k] = guidance > 1 ? e[k] + guidance * (e[n + k] - e[k]) : e[n + k];
        x0[k] = s.x0_x[i] * x[k] + s.x0_e[i] * guided[k];
        next[k] = s.x[i] * x[k] + s.e[i] * guided[k];
      }
      steps[i].x0 = x0;
      steps[i].noise = guided;
      x = next;
      steps.push({ index: i + 1, t: i + 1 < s.timesteps.length ? s.timesteps[i + 1] : 0, x: x, x0: null,
        noise: null });
      await yieldToPage(); // the U-Net and the frame's decoding are two tasks: a click waits for one at most
      if (signal && signal.cancelled) return null;
      await onStep(steps[i + 1], steps[i]);
    }
    var last = steps[steps.length - 1];
    last.x0 = x;
    last.noise = new Float32Array(n);
    return steps;
  };

  /* the forward view's latents: the final latent noised to each step's T with the run's fixed noise */
  Model.prototype.forward = function (finalLatent, seed) {
    var s = this.data.schedule, n = this.count, noise = torchRandn(forwardSeed(seed), n), out = [];
    for (var i = 0; i < s.timesteps.length; i++) {
      var x = new Float32Array(n);
      for (var k = 0; k < n; k++) x[k] = s.forward_x0[i] * finalLatent[k] + s.forward_noise[i] * noise[k];
      out.push(x);
    }
    out.push(finalLatent);
    return out;
  };

  /* a latent -> the decoded picture as RGBA pixels (size x size) */
  Model.prototype.decode = async function (latent) {
    var out = await (await this.sessions.decoder).run({ latent: this.tensor(latent, [1].concat(this.latent)) });
    var v = out.out.data, side = this.data.size, plane = side * side;
    var rgba = new Uint8ClampedArray(plane * 4);
    for (var p = 0; p < plane; p++) {
      for (var c = 0; c < 3; c++) rgba[p * 4 + c] = toByte(v[c * plane + p] / 2 + 0.5);
      rgba[p * 4 + 3] = 255;
    }
    return new ImageData(rgba, side, side);
  };

  /* channels 0-2 of a latent (or of the noise) as colours (capture.latent_view), one pixel per cell */
  Model.prototype.latentImage = function (latent) {
    var side = this.latent[1], plane = side * this.latent[2], channels = this.latent[0];
    var rgba = new Uint8ClampedArray(plane * 4);
    for (var p = 0; p < plane; p++) {
      for (var c = 0; c < 3; c++) {
        var value = latent[Math.min(c, channels - 1) * plane + p] / this.data.latent_range;
        rgba[p * 4 + c] = toByte(Math.max(-1, Math.min(1, value)) / 2 + 0.5);
      }
      rgba[p * 4 + 3] = 255;
    }
    return new ImageData(rgba, this.latent[2], side);
  };

  function toByte(unit) {
    return Math.round(Math.max(0, Math.min(1, unit)) * 255);
  }

  /* A new task at the back of the queue: input, rendering and the page's other tasks get their turn between
   * two steps (scheduler.yield() would jump the queue and keep them waiting until the run ends). */
  function yieldToPage() {
    return new Promise(function (resolve) {
      var channel = new MessageChannel();
      channel.port1.onmessage = function () { resolve(); };
      channel.port2.postMessage(null);
    });
  }

  /* ---------- the page's frames: a frame source for the demo's slider ---------- */

  /* One live run's frames, as slider.js's frame sources give them (count, size, ready, load, draw, preload,
   * release): image, latent and noise frames come as the run goes; prediction and forward are decoded
   * after it, a frame per task. A frame not made yet is not drawn: the panel keeps what it shows. */
  function LiveFrames(model, prompt, signal) {
    this.model = model;
    this.prompt = prompt;
    this.signal = signal;
    this.total = model.data.schedule.timesteps.length + 1;
    this.frames = { image: [], prediction: [], forward: [], latent: [], noise: [] };
    this.done = {};
  }
  LiveFrames.prototype.count = function () { return this.total; };
  LiveFrames.prototype.size = function (view) {
    return view === "latent" || view === "noise" ? this.model.latent[2] : this.model.data.size;
  };
  // image, latent and noise draw as they come; prediction and forward once all their frames are in
  LiveFrames.prototype.ready = function (view) {
    return !!this.done[view] || ((view === "image" || view === "latent" || view === "noise") &&
      !!this.frames[view][0]);
  };
  LiveFrames.prototype.load = function () { return Promise.resolve(); };
  LiveFrames.prototype.draw = function (ctx, view, index) {
    var image = this.frames[view] && this.frames[view][index];
    if (!image) return false;
    ctx.putImageData(image, 0, 0);
    return true;
  };
  LiveFrames.prototype.preload = function () { return []; };
  // the slider lets go of this source (another prompt picked): the run stops
  LiveFrames.prototype.release = function () { this.signal.cancelled = true; };

  /* after the run: the views that need the decoder for every frame, each frame its own task */
  LiveFrames.prototype.decodeRest = async function (steps, seed, onView) {
    var model = this.model, noised = model.forward(steps[steps.length - 1].x, seed);
    var latents = { prediction: steps.map(function (s) { return s.x0; }), forward: noised };
    for (var view in latents) {
      for (var i = 0; i < latents[view].length; i++) {
        await yieldToPage();
        if (this.signal.cancelled) return;
        this.frames[view][i] = await model.decode(latents[view][i]);
      }
      this.done[view] = true;
      onView(view);
    }
  };

  /* ---------- the page: the demo's [data-draw] root ---------- */

  function Drawer(root) {
    var q = function (sel) { return root.querySelector(sel); };
    this.root = root;
    this.form = q("[data-draw-form]") || root;
    this.prompt = q("input[name=prompt]");
    this.seed = q("input[name=seed]");
    this.guidance = q("input[name=guidance]");
    this.button = q("button[data-draw-run]");
    this.status = q("[data-draw-status]");
    this.suggest = q("[data-draw-suggest]");
    this.words = q("[data-draw-words]");
    this.urls = { ort: root.getAttribute("data-draw-ort"), wasm: root.getAttribute("data-draw-wasm") };
    this.key = root.getAttribute("data-draw-key");
    this.src = root.getAttribute("data-draw-model");
    this.captions = root.getAttribute("data-draw-captions");
    this.signal = null;
    this.insisted = null; // a prompt with unknown words, drawn anyway when Draw is pressed for it again
    var self = this;
    if (!supported()) {
      this.say("This browser cannot run the model (it lacks WebAssembly or DecompressionStream); " +
        "the precomputed prompts above still work.");
      this.button.disabled = true;
      return;
    }
    this.form.addEventListener("submit", function (event) { event.preventDefault(); self.draw(); });
    // the learner asks for the live mode by going to type a prompt: the suggestions list (the captions the
    // model knows) fills and the model starts loading then, while they type
    var engage = function () {
      self.prompt.removeEventListener("pointerdown", engage);
      self.prompt.removeEventListener("focus", engage);
      self.fillWords();
      self.prepare();
    };
    this.prompt.addEventListener("pointerdown", engage);
    this.prompt.addEventListener("focus", engage);
  }

  /* Load what a Draw needs (once): the runtime and the model, saying so meanwhile. Resolves with the model
   * once its data is in (a run waits for each part's session as it needs it). */
  Drawer.prototype.prepare = function () {
    if (this.model) return this.model;
    var self = this, loading = "Loading the model (once)…";
    var still = function () { return self.status && self.status.textContent === loading; }; // nothing said since
    this.say(loading);
    this.model = load(this.urls, this.key, this.src);
    this.model.then(function (model) { return model.loaded; }).then(function () {
      if (still() && !self.signal) self.say("The model is ready: press Draw.");
    }, function (error) {
      self.model = null; // the next Draw tries again
      if (still()) self.say(self.failed(error));
    });
    return this.model;
  };

  Drawer.prototype.failed = function (error) {
    return "The model could not run here (" + error.message + "); the precomputed prompts still work.";
  };

  Drawer.prototype.say = function (text) {
    if (this.status) this.status.textContent = text;
  };

  Drawer.prototype.busy = function (on) {
    this.root.setAttribute("aria-busy", on ? "true" : "false");
  };

  Drawer.prototype.fillWords = function () {
    var list = this.words;
    if (!list) return;
    loadVocabulary(this.key, this.captions).then(function (words) {
      var fragment = document.createDocumentFragment();
      words.captions.forEach(function (caption) {
        var option = document.createElement("option");
        option.value = caption;
        fragment.appendChild(option);
      });
      list.textContent = "";
      list.appendChild(fragment);
    }, function () {});
  };

  Drawer.prototype.showSuggestions = function (check) {
    if (!this.suggest) return;
    this.suggest.textContent = "";
    var self = this;
    check.nearest.forEach(function (caption) {
      var item = document.createElement("li"), button = document.createElement("button");
      button.type = "button";
      button.className = "demo__btn";
      button.textContent = caption;
      button.addEventListener("click", function () { self.prompt.value = caption; self.draw(); });
      item.appendChild(button);
      self.suggest.appendChild(item);
    });
  };

  /* the demo's slider, showing this run in its first panel; null when the schedules differ (the slider's T
   * labels would lie) */
  Drawer.prototype.slider = function (model) {
    var demo = this.root.closest("[data-demo]");
    var slider = demo && window.unsmudgeSlider ? window.unsmudgeSlider.get(demo) : null;
    if (!slider) throw new Error("the demo's slider is not running");
    var t = model.data.schedule.timesteps.concat(0);
    if (slider.lead().t.join(" ") !== t.join(" ")) throw new Error("the model's schedule is not the demo's");
    return slider;
  };

  /* the prompt menu says the first panel shows the learner's run; picking a prompt there goes back to it */
  Drawer.prototype.mark = function (slider, prompt) {
    var select = slider.select;
    if (!select) return;
    var option = select.querySelector("[data-draw-option]");
    if (!option) {
      option = document.createElement("option");
      option.setAttribute("data-draw-option", "");
      option.disabled = true;
      option.value = "";
      select.appendChild(option);
    }
    option.textContent = "Yours: " + prompt;
    select.value = "";
  };

  /* Draw the prompt. A prompt with words no caption uses is answered with the nearest captions first;
   * Draw again with the same prompt draws it anyway. */
  Drawer.prototype.draw = async function () {
    if (this.signal) this.signal.cancelled = true;
    var signal = this.signal = { cancelled: false };
    var self = this, prompt = this.prompt.value, started = performance.now();
    this.busy(true);
    this.root.removeAttribute("data-draw-step");
    try {
      var words = await loadVocabulary(this.key, this.captions);
      var check = words.check(prompt);
      this.showSuggestions(check);
      var unknown = check.unknown.length > 0 && words.captions.length > 0;
      if (!check.prompt || (unknown && this.insisted !== check.prompt)) {
        this.insisted = check.prompt;
        this.say(check.prompt ? "The model never learned “" + check.unknown.join(" ") + "”" +
          (check.nearest.length ? "; it knows " + check.nearest.map(quote).join(", ") : "") +
          ". Pick one, or press Draw again to draw it anyway." : "Type what to draw.");
        return;
      }
      this.insisted = null;
      var model = await this.prepare();
      if (signal.cancelled) return;
      var slider = this.slider(model);
      var options = { prompt: prompt, seed: number(this.seed, 0, parseInt), guidance: number(this.guidance, 7.5,
        parseFloat) };
      var live = new LiveFrames(model, check.prompt, signal), total = live.count() - 1, shown = -1;
      var steps = await model.run(options, async function (step, previous) {
        var image = await model.decode(step.x);
        if (signal.cancelled) return;
        live.frames.image[step.index] = image;
        live.frames.latent[step.index] = model.latentImage(step.x);
        if (previous) live.frames.noise[previous.index] = model.latentImage(previous.noise);
        if (step.index === 0) {
          slider.useFrames(0, live);
          self.mark(slider, check.prompt);
          slider.setView("image");
          self.root.setAttribute("data-draw-first-ms", String(Math.round(performance.now() - started)));
          // said once (a live region read out at every step would drown the page); the slider shows each T
          self.say("Drawing “" + check.prompt + "” on this computer, " + total + " steps…");
        }
        // the slider follows the run unless the learner moved it meanwhile
        if (shown < 0 || slider.index === shown) slider.follow(step.index);
        shown = step.index;
        self.root.setAttribute("data-draw-step", String(step.index));
      }, signal);
      if (!steps || signal.cancelled) return;
      var last = steps[steps.length - 1];
      live.frames.noise[last.index] = model.latentImage(last.noise);
      slider.updateViews();
      slider.request();
      this.root.setAttribute("data-draw-ms", String(Math.round(performance.now() - started)));
      this.say("Done: “" + check.prompt + "” in " + total + " steps, drawn on this computer. The " +
        "prediction and adding-noise views follow.");
      this.busy(false);
      await live.decodeRest(steps, options.seed, function () { slider.updateViews(); });
      if (!signal.cancelled) this.say("Done: “" + check.prompt + "” in " + total + " steps, drawn on this " +
        "computer; every view is ready.");
    } catch (error) {
      this.say(this.failed(error));
    } finally {
      if (this.signal === signal) { this.signal = null; this.busy(false); }
    }
  };

  function quote(text) { return "“" + text + "”"; }

  function number(input, otherwise, parse) {
    var value = input ? parse(input.value) : NaN;
    return isFinite(value) ? value : otherwise;
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-draw]"), function (root) {
      if (!root.unsmudgeDraw) root.unsmudgeDraw = new Drawer(root);
    });
  }

  window.unsmudgeDraw = { load: load, loadVocabulary: loadVocabulary, Tokenizer: Tokenizer, Vocabulary: Vocabulary,
    torchRandn: torchRandn, forwardSeed: forwardSeed, supported: supported, LiveFrames: LiveFrames, start: start };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
