/* unsmudge site script (classic script, no modules: it must run from file://).
   - ArrowLeft / ArrowRight go to the previous / next lesson, unless focus is in a form control or slider.
   - Search: on first use, loads lunr and the search documents as <script src> (no fetch on file://),
     builds the index in the browser, and lists matches under the box. */
(function () {
  "use strict";

  function inControl(el) {
    if (!el || el === document.body) return false;
    if (el.isContentEditable) return true;
    var tag = el.tagName;
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || tag === "AUDIO" || tag === "VIDEO") return true;
    var role = el.getAttribute("role");
    return role === "slider" || role === "tab" || role === "listbox" || role === "combobox";
  }

  document.addEventListener("keydown", function (event) {
    if (event.defaultPrevented || event.altKey || event.ctrlKey || event.metaKey || event.shiftKey) return;
    if (event.key !== "ArrowLeft" && event.key !== "ArrowRight") return;
    if (inControl(document.activeElement)) return;
    var link = document.querySelector(event.key === "ArrowLeft" ? 'link[rel="prev"]' : 'link[rel="next"]');
    if (link) window.location.href = link.getAttribute("href");
  });

  var form = document.querySelector("form.search");
  if (!form) return;
  var input = form.querySelector("input");
  var list = form.querySelector(".search-results");
  var index = null, byId = {}, loading = false, pending = [];
  form.hidden = false;

  function load(src, done) {
    var script = document.createElement("script");
    script.src = src;
    script.onload = done;
    script.onerror = function () { list.hidden = false; list.textContent = "Search could not load."; };
    document.head.appendChild(script);
  }

  function ready(fn) {
    if (index) return fn();
    pending.push(fn);
    if (loading) return;
    loading = true;
    load(form.getAttribute("data-lunr"), function () {
      load(form.getAttribute("data-index"), function () {
        var docs = window.unsmudgeSearchDocs || [];
        docs.forEach(function (d) { byId[d.id] = d; });
        index = window.lunr(function () {
          this.ref("id");
          this.field("title", { boost: 10 });
          this.field("kicker", { boost: 3 });
          this.field("subtitle", { boost: 4 });
          this.field("headings", { boost: 3 });
          this.field("text");
          for (var i = 0; i < docs.length; i++) this.add(docs[i]);
        });
        pending.splice(0).forEach(function (f) { f(); });
      });
    });
  }

  function query(text) {
    var terms = text.toLowerCase().split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    if (!terms.length) return [];
    try {
      return index.query(function (q) {
        terms.forEach(function (term, n) {
          q.term(term, { boost: 10 });
          if (n === terms.length - 1) q.term(term, { wildcard: window.lunr.Query.wildcard.TRAILING });
        });
      });
    } catch (err) {
      return [];
    }
  }

  function show() {
    var text = input.value.trim();
    list.textContent = "";
    if (!text) { list.hidden = true; return; }
    var hits = query(text).slice(0, 10);
    if (!hits.length) {
      var none = document.createElement("li");
      none.textContent = "No lesson matches “" + text + "”.";
      list.appendChild(none);
    }
    hits.forEach(function (hit) {
      var doc = byId[hit.ref], li = document.createElement("li"), a = document.createElement("a");
      a.href = doc.url;
      a.textContent = doc.title;
      if (doc.kicker || doc.subtitle) {
        var small = document.createElement("small");
        small.textContent = [doc.kicker, doc.subtitle].filter(Boolean).join(" · ");
        a.appendChild(small);
      }
      li.appendChild(a);
      list.appendChild(li);
    });
    list.hidden = false;
  }

  input.addEventListener("focus", function () { ready(function () {}); });
  input.addEventListener("input", function () { ready(show); });
  input.addEventListener("keydown", function (event) {
    if (event.key === "Escape") { input.value = ""; show(); }
    if (event.key === "ArrowDown") {
      var first = list.querySelector("a");
      if (first) { event.preventDefault(); first.focus(); }
    }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    ready(function () { show(); var first = list.querySelector("a"); if (first) first.click(); });
  });
})();
