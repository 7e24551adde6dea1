/* The campaign composer's instant feedback: column toolbars (message and frame text), template
   picker, a rough character count while typing, account and list facts, and the frame file
   checks before upload.  The preview panel (server-rendered through htmx) has the
   authoritative numbers; an MMS / video / 5G message is one billed message, not parts. */
(function () {
  "use strict";
  var config = JSON.parse(document.getElementById("composer-config").textContent);
  var text = JSON.parse(document.getElementById("composer-text").textContent);
  var form = document.getElementById("compose-form");
  if (!form) { return; }
  var field = function (name) { return form.elements[name]; };
  var body = field("body");
  var listSelect = field("recipient_list");
  var accountSelect = field("vendor_account");
  var templateSelect = field("template");
  var kindSelect = field("kind");
  var signature = field("signature");
  var marketing = field("is_marketing");
  var toolbar = document.getElementById("var-toolbar");
  var frameToolbar = document.getElementById("frame-var-toolbar");
  var frameText = document.getElementById("frame-text");
  var counter = document.getElementById("instant-counter");
  var frames = document.getElementById("frames");

  function changed(element) {
    element.dispatchEvent(new Event("input", { bubbles: true }));
    element.dispatchEvent(new Event("change", { bubbles: true }));
  }

  function rich() { return kindSelect.value !== "sms"; }

  function insertColumn(name, into) {
    var token = "<" + name + ">";
    var start = into.selectionStart, end = into.selectionEnd;
    if (typeof start !== "number") { start = end = into.value.length; }
    into.setRangeText(token, start, end, "end");
    into.focus();
    changed(into);
  }

  function columnButtons(bar, columns, into) {
    if (!bar) { return; }
    bar.querySelectorAll("button").forEach(function (b) { b.remove(); });
    columns.forEach(function (name) {
      var button = document.createElement("button");
      button.type = "button";
      button.textContent = "<" + name + ">";
      button.setAttribute("data-column", name);
      button.addEventListener("click", function () { insertColumn(name, into); });
      bar.appendChild(button);
    });
  }

  function renderToolbar() {
    var hint = document.getElementById("no-columns");
    var list = config.lists[listSelect.value];
    var info = document.getElementById("list-info");
    var columns = list ? list.columns : [];
    toolbar.classList.toggle("hidden", body.readOnly);
    columnButtons(toolbar, body.readOnly ? [] : columns, body);
    columnButtons(frameToolbar, columns, frameText);
    if (!list) { hint.textContent = hint.dataset.initial || hint.textContent; hint.classList.remove("hidden"); info.textContent = ""; return; }
    info.textContent = list.count + " " + text.recipients + (list.columns.length ? " · " + text.columns + ": " + list.columns.join(", ") : "");
    if (!list.columns.length) { hint.textContent = text.noColumns; hint.classList.remove("hidden"); return; }
    hint.classList.add("hidden");
  }

  function account() { return config.accounts[accountSelect.value]; }

  function renderAccount() {
    var a = account();
    var info = document.getElementById("account-info");
    if (!a) { info.textContent = ""; return; }
    info.textContent = text.signature + " " + (a.signature || text.none) + " · " + text.suffix + " " +
      (a.suffix || text.none) + " · ¥" + a.price + " " + (rich() ? text.priceRich : text.price);
    signature.placeholder = a.signature || "";
    var rules = a.frames, ruleText = document.getElementById("frame-rules-text");
    if (ruleText) {
      ruleText.textContent = rules.supported ? text.frameRules
        .replace("%(types)s", rules.extensions.join(" "))
        .replace("%(file)s", Math.floor(rules.max_file_bytes / 1024))
        .replace("%(total)s", Math.floor(rules.max_total_bytes / 1024)) : "";
    }
  }

  function parts(length, ascii, a) {
    var limits = ascii ? a.ascii_limits : a.limits;
    if (!length) { return 0; }
    return length <= limits[0] ? 1 : Math.ceil(length / limits[1]);
  }

  function renderCounter() {
    var a = account();
    var sig = signature.value || (a ? a.signature : "");
    var suffix = a && marketing.checked ? a.suffix : "";
    var full = sig + body.value + (suffix && body.value.indexOf(suffix) === -1 ? suffix : "");
    var ascii = /^[\x00-\x7f]*$/.test(full);
    var n = Array.from(full).length;
    counter.innerHTML = "";
    if (rich()) {
      counter.textContent = text.richParts;
      return;
    }
    var strong = document.createElement("strong");
    strong.textContent = n;
    counter.appendChild(strong);
    counter.appendChild(document.createTextNode(" " + text.chars));
    if (a) {
      var p = document.createElement("strong");
      p.textContent = parts(n, ascii, a);
      counter.appendChild(document.createTextNode(" · "));
      counter.appendChild(p);
      counter.appendChild(document.createTextNode(" " + text.parts));
    }
    var note = document.createElement("span");
    note.textContent = "(" + text.instant + ")";
    counter.appendChild(note);
  }

  function renderKind() {
    if (frames) { frames.classList.toggle("hidden", !rich()); }
    // An MMS / video / 5G draft with text frames: the message is those texts (edited there).
    body.readOnly = rich() && body.hasAttribute("data-from-frames");
    renderToolbar();
    renderCounter();
    renderAccount();
  }

  templateSelect.addEventListener("change", function () {
    var t = config.templates[templateSelect.value];
    if (!t) { return; }
    body.value = t.body;
    kindSelect.value = t.kind;
    signature.value = t.signature;
    marketing.checked = t.is_marketing;
    renderKind();
    renderCounter();
    changed(body);
  });
  listSelect.addEventListener("change", renderToolbar);
  accountSelect.addEventListener("change", function () { renderAccount(); renderCounter(); });
  kindSelect.addEventListener("change", renderKind);
  [body, signature, marketing].forEach(function (el) { el.addEventListener("input", renderCounter); el.addEventListener("change", renderCounter); });

  var hint = document.getElementById("no-columns");
  if (hint) { hint.dataset.initial = hint.textContent; }
  renderToolbar();
  renderAccount();
  renderCounter();
  renderKind();

  /* ------------------------------------------------------------ frame files */
  var frameForm = document.getElementById("frame-form");
  if (frameForm) {
    var fileInput = document.getElementById("frame-file");
    var error = document.getElementById("frame-error");
    var ok = document.getElementById("frame-ok");
    var submit = document.getElementById("frame-submit");
    var existing = parseInt(fileInput.dataset.existing || "0", 10);
    var problem = function (file) {
      var extensions = (fileInput.dataset.extensions || "").split(",").filter(Boolean);
      var name = file.name.toLowerCase();
      if (!extensions.some(function (e) { return name.endsWith(e); })) { return text.badType + " (" + extensions.join(" ") + ")"; }
      var family = (file.type || "").split("/")[0];
      var ext = extensions.filter(function (e) { return name.endsWith(e); })[0];
      var families = config.media[ext] || [];  /* media_types.MEDIA_TYPES */
      if (family && family !== "application" && families.length && families.indexOf(family) === -1) { return text.badType; }
      if (file.size > parseInt(fileInput.dataset.maxFile, 10)) { return text.tooBig; }
      if (existing + file.size > parseInt(fileInput.dataset.maxTotal, 10)) { return text.tooBigTotal; }
      return "";
    };
    var check = function () {
      var file = fileInput.files[0];
      var why = file ? problem(file) : "";
      error.textContent = why;
      error.classList.toggle("hidden", !why);
      error.classList.toggle("bad", !!why);
      ok.classList.toggle("hidden", !file || !!why);
      ok.textContent = file && !why ? file.name + " · " + Math.ceil(file.size / 1024) + " KB · " + text.readyToUpload : "";
      submit.disabled = !!why;
      return !why;
    };
    fileInput.addEventListener("change", check);
    frameForm.addEventListener("submit", function (event) { if (!check()) { event.preventDefault(); } });
  }
  document.querySelectorAll("[data-text-src]").forEach(function (box) {
    fetch(box.getAttribute("data-text-src"), { credentials: "same-origin" })
      .then(function (r) { return r.text(); })
      .then(function (t) { box.textContent = t; });
  });
})();
