/* unsmudge diffusion slider: a classic script (no modules, no fetch), so it works from file://.
 * Every <section data-demo> on the page gets one slider. Its runs come from the page itself:
 * <script type="application/json" id="demo-data-ID">. All frames of the chosen run are loaded and
 * decoded before the controls unlock, so scrubbing never waits on the network. */
(function () {
  "use strict";

  var FRAME_MS = 100; // ~10 frames per second
  var VIEWS = ["image", "prediction", "latent"];
  var NAMES = { image: "Image", prediction: "Prediction", latent: "Latent", forward: "Adding noise" };
  var reducedMotion = window.matchMedia ? window.matchMedia("(prefers-reduced-motion: reduce)") : null;

  function caption(what, latentSize) {
    if (what === "forward") return "The finished picture with noise added up to this T: the half of diffusion that needs no model.";
    if (what === "prediction") return "The model’s guess, from this step, of what the finished picture will be.";
    if (what === "latent") return "The latent itself" + (latentSize ? ", " + latentSize : "") +
      ": the small grid of numbers the U-Net denoises (three of its four channels shown as colour).";
    return "The canvas at this step: what the picture looks like now.";
  }

  function Slider(root) {
    var id = root.getAttribute("data-demo");
    var dataNode = document.getElementById("demo-data-" + id);
    var parsed = JSON.parse(dataNode ? dataNode.textContent : "[]");
    this.runs = Array.isArray(parsed) ? parsed : (parsed.runs || []);
    if (!this.runs.length) return;

    var q = function (sel) { return root.querySelector(sel); };
    this.root = root;
    this.app = q("[data-app]");
    this.img = q("[data-img]");
    this.range = q("[data-range]");
    this.tLabel = q("[data-t]");
    this.ticks = q("[data-ticks]");
    this.captionEl = q("[data-caption]");
    this.loadingEl = q("[data-loading]");
    this.live = q("[data-live]");
    this.select = q("[data-run]");
    this.pauseBtn = q("[data-pause]");
    this.viewInputs = root.querySelectorAll("[data-view]");
    this.buttons = root.querySelectorAll("[data-play], [data-step]");
    this.runIndex = 0;
    this.index = 0;
    this.view = "image";
    this.forward = false; // showing the "add noise" frames instead of the reverse process
    this.timer = null;
    this.playing = null;
    this.loadToken = 0;
    this.cache = []; // keeps the decoded Image objects alive while their run is chosen
    this.latentSize = "";

    var strip = q("[data-filmstrip]");
    if (strip) strip.hidden = true;
    this.app.hidden = false;
    this.bind();
    this.chooseRun(0);
  }

  Slider.prototype.steps = function () { return this.runs[this.runIndex].steps; };

  Slider.prototype.bind = function () {
    var self = this;
    this.range.addEventListener("input", function () {
      self.stop();
      self.show(parseInt(self.range.value, 10));
    });
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-play]"), function (btn) {
      btn.addEventListener("click", function () { self.play(btn.getAttribute("data-play")); });
    });
    Array.prototype.forEach.call(this.root.querySelectorAll("[data-step]"), function (btn) {
      btn.addEventListener("click", function () { self.step(parseInt(btn.getAttribute("data-step"), 10)); });
    });
    this.pauseBtn.addEventListener("click", function () { self.pause(); });
    Array.prototype.forEach.call(this.viewInputs, function (input) {
      input.addEventListener("change", function () { if (input.checked) self.setView(input.value, true); });
    });
    if (this.select) {
      this.select.addEventListener("change", function () { self.chooseRun(parseInt(self.select.value, 10)); });
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
    if (target.tagName === "SELECT" || target.isContentEditable) return;
    var key = event.key.toLowerCase();
    var handled = true;
    if (key === "n") this.play("forward");
    else if (key === "r") this.play("reverse");
    else if (key === "k") { if (this.playing) this.pause(); else this.resume(); }
    else if (key === "1" || key === "2" || key === "3") this.setView(VIEWS[+key - 1], true);
    else handled = false;
    if (handled) { event.preventDefault(); event.stopPropagation(); }
  };

  Slider.prototype.announce = function (text) {
    // Clear first so that the same words said twice are still read out.
    var live = this.live;
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 30);
  };

  Slider.prototype.describe = function () {
    return "T = " + this.steps()[this.index].t + ", " + NAMES[this.forward ? "forward" : this.view].toLowerCase() + " view";
  };

  Slider.prototype.setBusy = function (busy) {
    this.range.disabled = busy;
    Array.prototype.forEach.call(this.buttons, function (b) { b.disabled = busy; });
    Array.prototype.forEach.call(this.viewInputs, function (b) { b.disabled = busy; });
    this.loadingEl.hidden = !busy;
    this.root.setAttribute("data-state", busy ? "loading" : "ready");
    this.root.setAttribute("aria-busy", busy ? "true" : "false");
  };

  Slider.prototype.chooseRun = function (runIndex) {
    var self = this;
    var run = this.runs[runIndex];
    this.stop();
    this.runIndex = runIndex;
    var steps = run.steps;
    this.range.max = String(steps.length - 1);
    this.index = Math.min(this.index, steps.length - 1);
    this.drawTicks();
    this.setBusy(true);

    var urls = [];
    steps.forEach(function (s) {
      VIEWS.concat("forward").forEach(function (v) { if (s[v]) urls.push(s[v]); });
    });
    var token = ++this.loadToken;
    var done = 0, failed = 0;
    var images = [];
    this.loadingEl.textContent = "Loading frames… 0 / " + urls.length;
    var promises = urls.map(function (url) {
      var im = new Image();
      im.decoding = "async";
      images.push(im);
      var p = new Promise(function (resolve) {
        im.onload = function () {
          var d = im.decode ? im.decode() : Promise.resolve();
          d.then(null, function () {}).then(function () { resolve(true); });
        };
        im.onerror = function () { failed++; resolve(false); };
      });
      im.src = url;
      return p.then(function () {
        done++;
        if (token === self.loadToken) self.loadingEl.textContent = "Loading frames… " + done + " / " + urls.length;
      });
    });
    Promise.all(promises).then(function () {
      if (token !== self.loadToken) return; // another prompt was chosen meanwhile
      self.cache = images;
      var latent = steps[0].latent && images[urls.indexOf(steps[0].latent)];
      self.latentSize = latent && latent.naturalWidth ? latent.naturalWidth + " × " + latent.naturalHeight + " cells" : "";
      self.setBusy(false);
      self.show(self.index);
      var msg = "Prompt “" + run.prompt + "”: " + (failed ? failed + " of " + urls.length + " frames failed to load. " : "frames loaded. ") + self.describe() + ".";
      if (failed) { self.loadingEl.hidden = false; self.loadingEl.textContent = failed + " frames failed to load"; }
      self.announce(msg);
    });
    this.show(this.index);
  };

  Slider.prototype.drawTicks = function () {
    var steps = this.steps();
    var last = steps.length - 1;
    var picks = [0, Math.round(last / 4), Math.round(last / 2), Math.round(3 * last / 4), last];
    this.ticks.textContent = "";
    var seen = {};
    picks.forEach(function (i) {
      if (seen[i] || last < 0) return;
      seen[i] = true;
      var p = last ? i / last : 0;
      var tick = document.createElement("span");
      tick.className = "demo__tick";
      tick.textContent = steps[i].t;
      // the thumb's centre runs from half a thumb in to half a thumb from the end (thumb: 1.25rem)
      tick.style.left = "calc(" + (p * 100) + "% + " + ((0.5 - p) * 1.25) + "rem)";
      this.ticks.appendChild(tick);
    }, this);
  };

  Slider.prototype.show = function (index) {
    var steps = this.steps();
    index = Math.max(0, Math.min(steps.length - 1, index));
    this.index = index;
    var step = steps[index];
    var what = this.forward ? "forward" : this.view;
    var text = "T = " + step.t;
    this.range.value = String(index);
    this.range.setAttribute("aria-valuetext", text);
    this.tLabel.textContent = text;
    var src = step[what] || step.image;
    if (this.img.getAttribute("src") !== src) this.img.setAttribute("src", src);
    this.img.alt = "“" + this.runs[this.runIndex].prompt + "”, " + NAMES[what].toLowerCase() + " at " + text;
    this.img.className = "demo__img demo__img--" + what;
    this.captionEl.textContent = caption(what, this.latentSize);
    this.root.setAttribute("data-view", what);
  };

  Slider.prototype.setView = function (view, announce) {
    this.view = view;
    this.forward = false;
    Array.prototype.forEach.call(this.viewInputs, function (input) { input.checked = input.value === view; });
    this.show(this.index);
    if (announce) this.announce(NAMES[view] + " view, T = " + this.steps()[this.index].t + ".");
  };

  Slider.prototype.step = function (delta) {
    this.stop();
    this.show(this.index + delta);
    this.announce(this.describe() + ".");
  };

  // direction "reverse": T from high to 0 over the image frames; "forward": T from 0 up over the forward frames.
  Slider.prototype.play = function (direction, resume) {
    var self = this;
    var last = this.steps().length - 1;
    this.stop();
    if (direction === "forward") {
      this.forward = true;
      Array.prototype.forEach.call(this.viewInputs, function (input) { input.checked = input.value === "image"; });
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
    Array.prototype.forEach.call(roots, function (root) {
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

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
