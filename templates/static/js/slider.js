/* unsmudge diffusion slider: a classic script (no modules, no fetch), so it works from file://.
 *
 * Every <section data-demo> on the page gets one slider. Its data comes from the page itself
 * (<script type="application/json" id="demo-data-ID">, see docs/architecture.md, "The slider's data"):
 * runs, each with its timesteps, a poster (its first frame) and, per view, the sprite sheets that hold
 * its frames. A "choice" (the prompt menu) shows one run, or 2-4 runs side by side in a comparison.
 *
 * Loading, for the chosen choice only: the poster is drawn at once; the image view's sheets come first and
 * unlock the slider; the other views follow one after another and unlock their radio buttons; then, while
 * the page is idle, the next choice's files are fetched (not decoded) so that picking it is quick. Choosing
 * another choice drops the previous one's pictures: a page never holds all its runs.
 *
 * Drawing: inputs only record what to show; one requestAnimationFrame callback draws it, so every input is
 * on screen in the next animation frame. Frames reach the canvas through one interface, a "frame source"
 * (SheetFrames below): count(), size(view), ready(view), load(view) -> Promise, draw(ctx, view, index) ->
 * bool, preload(), release(). Another source (pictures made in the page itself) can be given to a panel
 * with window.unsmudgeSlider.get(root).useFrames(panelIndex, source) (templates/live/js/draw.js does, for
 * the learner's own prompt: its source may set `prompt`, and calls follow(index) as frames come in and
 * updateViews() as views are complete); choosing from the prompt menu gives the panel its sheets back.
 */
(function () {
  "use strict";

  var FRAME_MS = 100; // ~10 frames per second when playing
  var VIEWS = ["image", "prediction", "latent", "noise"]; // the view radios, keys 1-4
  var LATER = ["prediction", "forward", "latent", "noise"]; // loaded after the image view, in this order
  var NAMES = { image: "Image", prediction: "Prediction", latent: "Latent", noise: "Noise", forward: "Adding noise" };
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;
  var idle = window.requestIdleCallback || function (fn) { return window.setTimeout(fn, 300); };

  function caption(what, latentSize) {
    if (what === "forward") return "The finished picture with noise added up to this T: the half of diffusion that needs no model.";
    if (what === "prediction") return "The model’s guess, from this step, of what the finished picture will be.";
    if (what === "latent") return "The latent itself" + (latentSize ? ", " + latentSize : "") +
      ": the small grid of numbers the U-Net denoises (three of its four channels shown as colour).";
    if (what === "noise") return "The noise the model guesses is in the latent at this step" +
      (latentSize ? ", " + latentSize : "") + ": its only job. Each step removes part of this guess.";
    return "The canvas at this step: what the picture looks like now.";
  }

  function each(list, fn) { Array.prototype.forEach.call(list, fn); }

  /* ---- A run's frames from its sprite sheets: a sheet is a grid of `columns` x `rows` square frames of
     `size` px; frame i of a view is cell `first + i`, counted across the view's sheets in order. A sheet is
     decoded once, at most at the resolution its panel shows (`display` device pixels), and kept decoded. */
  function SheetFrames(run, display) {
    this.run = run;
    this.display = display || Infinity;
    this.sheets = {}; // url -> {image, fetched, decoded, bitmap, cell}
    this.done = {}; // view -> true once all its sheets are decoded
  }
  SheetFrames.prototype.count = function () { return this.run.t.length; };
  SheetFrames.prototype.ready = function (view) { return !!this.done[view]; };
  // The side of a drawn frame: the view's own size, or less when its panel shows it smaller.
  SheetFrames.prototype.size = function (view) {
    var entry = this.sheets[this.run.views[view].sheets[0]];
    return entry && entry.cell ? entry.cell : this.run.views[view].size;
  };

  SheetFrames.prototype.sheet = function (url, spec) {
    var self = this, entry = this.sheets[url];
    if (entry) return entry;
    var im = new Image();
    im.decoding = "async";
    entry = this.sheets[url] = { image: im, bitmap: null, cell: 0 };
    entry.fetched = new Promise(function (resolve, reject) {
      im.onload = resolve;
      im.onerror = function () { reject(new Error("cannot load " + url)); };
    });
    im.src = url;
    // A decoded copy that stays decoded (the browser may drop an <img>'s decoded pixels at will, and
    // decoding a whole sheet again inside a frame would miss it), decoded off the main thread and scaled
    // down to what the panel shows (four panels of 512 px frames would otherwise hold 700 MB).
    var cell = Math.min(spec.size, Math.max(1, Math.round(this.display)));
    entry.decoded = entry.fetched.then(function () {
      if (!window.createImageBitmap) {
        cell = spec.size;
        return im.decode ? im.decode().then(function () { return im; }) : im;
      }
      var whole = function () { cell = spec.size; return window.createImageBitmap(im); };
      if (cell === spec.size) return whole();
      return window.createImageBitmap(im, { resizeWidth: spec.columns * cell, resizeHeight: spec.rows * cell,
                                            resizeQuality: "high" }).then(null, whole);
    }).then(function (bitmap) {
      if (self.sheets[url] !== entry) { if (bitmap.close) bitmap.close(); return; } // released meanwhile
      entry.bitmap = bitmap;
      entry.cell = cell;
    });
    return entry;
  };

  SheetFrames.prototype.entries = function (view) {
    var self = this, spec = this.run.views[view];
    return spec.sheets.map(function (url) { return self.sheet(url, spec); });
  };

  // Promises: fetched (the bytes are in) and decoded (drawable).
  SheetFrames.prototype.download = function (view) {
    return Promise.all(this.entries(view).map(function (e) { return e.fetched; }));
  };

  SheetFrames.prototype.load = function (view) {
    var self = this;
    return Promise.all(this.entries(view).map(function (e) { return e.decoded; }))
      .then(function () { self.done[view] = true; });
  };

  SheetFrames.prototype.draw = function (ctx, view, index) {
    var spec = this.run.views[view];
    var cell = spec.first + index, per = spec.columns * spec.rows;
    var entry = this.sheets[spec.sheets[Math.floor(cell / per)]];
    if (!entry || !entry.bitmap) return false;
    var k = cell % per, s = entry.cell;
    ctx.drawImage(entry.bitmap, (k % spec.columns) * s, Math.floor(k / spec.columns) * s, s, s, 0, 0, s, s);
    return true;
  };

  // The files, fetched into the browser's cache but not decoded: picking this run later is then quick.
  SheetFrames.prototype.preload = function () {
    var run = this.run, urls = [run.poster];
    LATER.concat("image").forEach(function (v) { urls = urls.concat(run.views[v].sheets); });
    return urls.filter(function (u, i) { return urls.indexOf(u) === i; }).map(function (url) {
      var im = new Image();
      im.src = url;
      return im;
    });
  };

  SheetFrames.prototype.release = function () {
    var sheets = this.sheets;
    Object.keys(sheets).forEach(function (url) {
      var bitmap = sheets[url].bitmap;
      if (bitmap && bitmap.close) bitmap.close();
    });
    this.sheets = {};
    this.done = {};
  };

  /* ---- One picture on the stage: a canvas drawn from a frame source (its poster until the image view is in). */
  function Panel(el) {
    this.el = el;
    this.canvas = el.querySelector("[data-canvas]");
    this.ctx = this.canvas.getContext("2d");
    this.poster = el.querySelector("[data-poster]");
    this.label = el.querySelector("[data-label]");
    this.frames = null;
    this.shown = "";
  }

  Panel.prototype.resize = function (size) {
    if (this.canvas.width !== size) { this.canvas.width = size; this.canvas.height = size; this.shown = ""; }
  };

  // Draws frame `index` of view `what`; returns what is on the canvas ("image 3", "poster", or "").
  Panel.prototype.draw = function (what, index) {
    var frames = this.frames;
    var key = what + " " + index;
    if (key === this.shown) return key;
    if (frames && frames.ready(what)) {
      this.resize(frames.size(what));
      if (frames.draw(this.ctx, what, index)) this.shown = key;
    } else if (this.shown === "" && this.poster.complete && this.poster.naturalWidth) {
      this.resize(this.poster.naturalWidth);
      this.ctx.drawImage(this.poster, 0, 0);
      this.shown = "poster";
    }
    this.canvas.setAttribute("data-frame", this.shown);
    return this.shown;
  };

  /* ---- The slider: one range, one pair of play buttons and one view choice for all its panels. */
  function Slider(root) {
    var id = root.getAttribute("data-demo");
    var dataNode = document.getElementById("demo-data-" + id);
    var data = JSON.parse(dataNode ? dataNode.textContent : "{}");
    this.runs = data.runs || [];
    this.choices = data.choices || [];
    if (!this.runs.length || !this.choices.length) return;

    var q = function (sel) { return root.querySelector(sel); };
    this.root = root;
    this.app = q("[data-app]");
    this.range = q("[data-range]");
    this.tLabel = q("[data-t]");
    this.ticks = q("[data-ticks]");
    this.captionEl = q("[data-caption]");
    this.loadingEl = q("[data-loading]");
    this.live = q("[data-live]");
    this.select = q("[data-run]");
    this.pauseBtn = q("[data-pause]");
    this.describeEl = q("[data-compare]");
    this.viewInputs = root.querySelectorAll("[data-view]");
    this.playButtons = root.querySelectorAll("[data-play]");
    this.stepButtons = root.querySelectorAll("[data-step]");
    this.panels = Array.prototype.map.call(root.querySelectorAll("[data-panel]"), function (el) { return new Panel(el); });
    this.choice = -1;
    this.index = 0;
    this.view = "image";
    this.forward = false; // showing the "add noise" frames instead of the reverse process
    this.timer = null;
    this.playing = null;
    this.loadToken = 0;
    this.frameRequest = 0;
    this.preloaded = [];
    this.latentSize = "";
    this.onDraw = null; // (index, what) after each drawn frame: for measurements

    var strip = q("[data-filmstrip]");
    if (strip) strip.hidden = true;
    this.app.hidden = false;
    this.bind();
    this.choose(0);
    Slider.all.push(this);
  }
  Slider.all = [];

  Slider.prototype.bind = function () {
    var self = this;
    this.range.addEventListener("input", function () {
      self.stop();
      self.show(parseInt(self.range.value, 10));
    });
    each(this.playButtons, function (btn) {
      btn.addEventListener("click", function () { self.play(btn.getAttribute("data-play")); });
    });
    each(this.stepButtons, function (btn) {
      btn.addEventListener("click", function () { self.step(parseInt(btn.getAttribute("data-step"), 10)); });
    });
    this.pauseBtn.addEventListener("click", function () { self.pause(); });
    each(this.viewInputs, function (input) {
      input.addEventListener("change", function () { if (input.checked) self.setView(input.value, true); });
    });
    if (this.select) {
      this.select.addEventListener("change", function () { self.choose(parseInt(self.select.value, 10)); });
    }
    this.root.addEventListener("keydown", function (event) { self.onKey(event); });
  };

  Slider.prototype.onKey = function (event) {
    var target = event.target;
    if (/^Arrow|^Page|^Home$|^End$/.test(event.key)) {
      // Arrow keys inside the demo belong to it, not to the page's lesson pager: the focused control
      // (range, radios, select) handles them natively; on a button, left and right step the slider.
      event.stopPropagation();
      if (target.tagName === "BUTTON" && !this.range.disabled && (event.key === "ArrowLeft" || event.key === "ArrowRight")) {
        event.preventDefault();
        this.step(event.key === "ArrowLeft" ? -1 : 1);
      }
      return;
    }
    if (event.ctrlKey || event.metaKey || event.altKey || this.range.disabled) return;
    // typing (a prompt of one's own) is not a shortcut
    if (target.tagName === "SELECT" || target.tagName === "TEXTAREA" || target.isContentEditable ||
        (target.tagName === "INPUT" && !/^(range|radio|checkbox|button|submit)$/.test(target.type))) return;
    var key = event.key.toLowerCase();
    var handled = true;
    if (key === "n") this.play("forward");
    else if (key === "r") this.play("reverse");
    else if (key === "k") { if (this.playing) this.pause(); else this.resume(); }
    else if (key >= "1" && key <= String(VIEWS.length)) this.setView(VIEWS[+key - 1], true);
    else handled = false;
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  };

  Slider.prototype.announce = function (text) {
    // Clear first so that the same words said twice are still read out.
    var live = this.live;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  };

  Slider.prototype.runsShown = function () {
    var runs = this.runs;
    return this.choices[this.choice].runs.map(function (i) { return runs[i]; });
  };

  // The longest run sets the range; the others follow by the fraction of the run (compare steps).
  Slider.prototype.lead = function () {
    return this.runsShown().reduce(function (a, b) { return b.t.length > a.t.length ? b : a; });
  };

  Slider.prototype.indexFor = function (run) {
    var last = this.lead().t.length - 1, own = run.t.length - 1;
    return last ? Math.round(this.index * own / last) : 0;
  };

  Slider.prototype.describe = function () {
    return "T = " + this.lead().t[this.index] + ", " + NAMES[this.forward ? "forward" : this.view].toLowerCase() + " view";
  };

  Slider.prototype.ready = function (view) {
    return this.panels.every(function (p) { return p.frames && p.frames.ready(view); });
  };

  Slider.prototype.setBusy = function (busy) {
    this.range.disabled = busy;
    each(this.stepButtons, function (b) { b.disabled = busy; });
    this.loadingEl.hidden = !busy;
    this.root.setAttribute("data-state", busy ? "loading" : "ready");
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
    this.updateViews();
  };

  // A view's radio (and "Add noise" for the forward frames) is usable once its frames are in.
  Slider.prototype.updateViews = function () {
    var self = this, busy = this.range.disabled;
    each(this.viewInputs, function (input) { input.disabled = busy || !self.ready(input.value); });
    each(this.playButtons, function (btn) {
      btn.disabled = busy || !self.ready(btn.getAttribute("data-play") === "forward" ? "forward" : "image");
    });
    var loaded = VIEWS.concat("forward").filter(function (v) { return self.ready(v); });
    this.root.setAttribute("data-loaded", loaded.join(" "));
  };

  Slider.prototype.choose = function (choice) {
    var self = this;
    this.stop();
    this.panels.forEach(function (p) { if (p.frames) p.frames.release(); });
    this.preloaded = [];
    this.choice = choice;
    var runs = this.runsShown();
    this.panels.forEach(function (panel, k) {
      var run = runs[k];
      panel.frames = new SheetFrames(run, panel.canvas.clientWidth * (window.devicePixelRatio || 1));
      panel.shown = "";
      if (panel.poster.getAttribute("src") !== run.poster) panel.poster.setAttribute("src", run.poster);
      if (panel.label) panel.label.textContent = run.label;
    });
    if (this.describeEl) this.describeEl.textContent = this.choices[choice].description;
    var lead = this.lead();
    this.range.max = String(lead.t.length - 1);
    this.index = Math.min(this.index, lead.t.length - 1);
    var latent = lead.views.latent;
    this.latentSize = latent ? latent.size + " × " + latent.size + " cells" : "";
    this.drawTicks();
    this.setBusy(true);
    this.loadingEl.textContent = "Loading frames…";
    this.panels.forEach(function (p) {
      if (p.poster.complete) self.request();
      else p.poster.addEventListener("load", function () { self.request(); }, { once: true });
    });
    this.show(this.index);

    var token = ++this.loadToken;
    var current = function () { return token === self.loadToken; };
    var failed = function (err) {
      if (!current()) return;
      self.loadingEl.hidden = false;
      self.loadingEl.textContent = "Some frames failed to load";
      self.announce("Some frames failed to load.");
      if (window.console) console.warn("unsmudge slider: " + err);
    };
    // One view's files after another (the image view's first), each decoded as soon as its bytes are in while
    // the next view's come; the image view unlocks the slider, each other view its radio.
    var views = ["image"].concat(LATER);
    var fetched = Promise.resolve();
    var decoded = views.map(function (view) {
      var bytes = fetched.then(function () {
        if (!current()) return;
        return Promise.all(self.panels.map(function (p) { return p.frames.download(view); }));
      });
      fetched = bytes;
      return bytes.then(function () {
        if (!current()) return;
        return Promise.all(self.panels.map(function (p) { return p.frames.load(view); })).then(function () {
          if (!current()) return;
          if (view === "image") {
            self.setBusy(false);
            self.show(self.index);
            self.announce(self.choices[choice].label + ": ready. " + self.describe() + ".");
          } else {
            self.updateViews();
            self.request();
          }
        });
      });
    });
    Promise.all(decoded).then(function () {
      if (current()) idle(function () { if (current()) self.preloadNext(); });
    }, failed);
  };

  Slider.prototype.preloadNext = function () {
    if (this.choices.length < 2) return;
    var runs = this.runs, next = this.choices[(this.choice + 1) % this.choices.length];
    var images = [];
    next.runs.forEach(function (i) { images = images.concat(new SheetFrames(runs[i]).preload()); });
    this.preloaded = images; // kept only until the next choice: the cache keeps the bytes
    this.root.setAttribute("data-preloaded", String((this.choice + 1) % this.choices.length));
  };

  Slider.prototype.drawTicks = function () {
    var ts = this.lead().t;
    var last = ts.length - 1;
    var picks = [0, Math.round(last / 4), Math.round(last / 2), Math.round(3 * last / 4), last];
    this.ticks.textContent = "";
    var seen = {};
    picks.forEach(function (i) {
      if (seen[i] || last < 0) return;
      seen[i] = true;
      var p = last ? i / last : 0;
      var tick = document.createElement("span");
      tick.className = "demo__tick";
      tick.textContent = ts[i];
      // the thumb's centre runs from half a thumb in to half a thumb from the end (thumb: 1.25rem)
      tick.style.left = "calc(" + (p * 100) + "% + " + ((0.5 - p) * 1.25) + "rem)";
      this.ticks.appendChild(tick);
    }, this);
  };

  // Records what to show and updates the words at once; the pictures follow in the next animation frame.
  Slider.prototype.show = function (index) {
    var lead = this.lead();
    index = Math.max(0, Math.min(lead.t.length - 1, index));
    this.index = index;
    var what = this.forward ? "forward" : this.view;
    var text = "T = " + lead.t[index];
    this.range.value = String(index);
    this.range.setAttribute("aria-valuetext", text);
    this.tLabel.textContent = text;
    var runs = this.runsShown(), self = this;
    this.panels.forEach(function (panel, k) {
      var run = runs[k];
      var own = run.t[self.indexFor(run)];
      var prompt = (panel.frames && panel.frames.prompt) || run.prompt; // a source made in the page has its own
      // runs of other lengths (compare steps) are at their own T: each label says which
      if (panel.label && run.t.length !== lead.t.length) panel.label.textContent = run.label + " · T = " + own;
      else if (panel.label) panel.label.textContent = run.label;
      panel.canvas.setAttribute("aria-label", "“" + prompt + "”" + (run.label !== run.prompt ? ", " + run.label : "") +
        ": " + NAMES[what].toLowerCase() + " at T = " + own);
      panel.canvas.className = "demo__img demo__img--" + what;
    });
    this.captionEl.textContent = caption(what, this.latentSize);
    this.root.setAttribute("data-view", what);
    this.request();
  };

  Slider.prototype.request = function () {
    var self = this;
    if (this.frameRequest) return;
    this.frameRequest = window.requestAnimationFrame(function () {
      self.frameRequest = 0;
      self.draw();
    });
  };

  // The one place that puts frames on screen (in an animation frame).
  Slider.prototype.draw = function () {
    var what = this.forward ? "forward" : this.view;
    var runs = this.runsShown(), self = this;
    this.panels.forEach(function (panel, k) { panel.draw(what, self.indexFor(runs[k])); });
    if (this.onDraw) this.onDraw(this.index, what);
  };

  // Another source of frames for one panel (for instance pictures made in the page): see the top comment.
  Slider.prototype.useFrames = function (panelIndex, frames) {
    var panel = this.panels[panelIndex];
    if (panel.frames) panel.frames.release();
    panel.frames = frames;
    panel.shown = "";
    this.updateViews();
    this.request();
  };

  // A source made in the page shows its newest frame: stop playing, go to it, unlock the views it has.
  Slider.prototype.follow = function (index) {
    this.stop();
    this.show(index);
    this.updateViews();
  };

  Slider.prototype.setView = function (view, announce) {
    if (!this.ready(view)) return;
    this.view = view;
    this.forward = false;
    each(this.viewInputs, function (input) { input.checked = input.value === view; });
    this.show(this.index);
    if (announce) this.announce(NAMES[view] + " view, T = " + this.lead().t[this.index] + ".");
  };

  Slider.prototype.step = function (delta) {
    this.stop();
    this.show(this.index + delta);
    this.announce(this.describe() + ".");
  };

  // direction "reverse": T from high to 0 over the image frames; "forward": T from 0 up over the forward frames.
  Slider.prototype.play = function (direction, resume) {
    var self = this;
    if (!this.ready(direction === "forward" ? "forward" : "image")) return;
    var last = this.lead().t.length - 1;
    this.stop();
    if (direction === "forward") {
      this.forward = true;
      each(this.viewInputs, function (input) { input.checked = input.value === "image"; });
      this.view = "image";
    } else if (this.forward) {
      this.forward = false;
    }
    var end = direction === "forward" ? 0 : last;
    var delta = direction === "forward" ? -1 : 1;
    if (!resume || this.index === end) this.show(direction === "forward" ? last : 0);
    else this.show(this.index);
    var label = direction === "forward" ? "Adding noise" : "Reverse diffusion";
    if (reducedMotion && reducedMotion.matches) {
      // No animation: go straight to where the animation would end.
      this.show(end);
      this.announce(label + ": jumped to the end. " + this.describe() + ".");
      return;
    }
    this.playing = direction;
    this.pauseBtn.disabled = false;
    this.root.setAttribute("data-playing", direction);
    this.announce(label + " playing.");
    var tick = function () {
      if (self.index === end) { self.finish(label); return; }
      self.show(self.index + delta);
      self.timer = window.setTimeout(tick, FRAME_MS);
    };
    this.timer = window.setTimeout(tick, FRAME_MS);
  };

  Slider.prototype.finish = function (label) {
    this.stop();
    this.announce(label + " finished. " + this.describe() + ".");
  };

  Slider.prototype.stop = function () {
    if (this.timer) window.clearTimeout(this.timer);
    this.timer = null;
    this.playing = null;
    this.root.removeAttribute("data-playing");
    if (this.pauseBtn) this.pauseBtn.disabled = true;
  };

  Slider.prototype.pause = function () {
    if (!this.playing) return;
    this.lastDirection = this.playing;
    this.stop();
    this.announce("Paused. " + this.describe() + ".");
  };

  Slider.prototype.resume = function () {
    this.play(this.lastDirection || (this.forward ? "forward" : "reverse"), true);
  };

  function init() {
    var roots = document.querySelectorAll("[data-demo]");
    each(roots, function (root) {
      if (root.getAttribute("data-state") !== "static") return; // already set up
      try {
        new Slider(root);
      } catch (err) {
        // Leave the filmstrip in place: a broken demo must not hide the lesson's pictures.
        root.setAttribute("data-state", "error");
        var strip = root.querySelector("[data-filmstrip]"), app = root.querySelector("[data-app]");
        if (strip) strip.hidden = false;
        if (app) app.hidden = true;
        if (window.console) console.warn("unsmudge slider " + root.getAttribute("data-demo") + ": " + err);
      }
    });
  }

  window.unsmudgeSlider = {
    SheetFrames: SheetFrames,
    get: function (root) {
      for (var i = 0; i < Slider.all.length; i++) if (Slider.all[i].root === root) return Slider.all[i];
      return null;
    }
  };

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
