// babelvl annotate: keyboard shortcuts and span marking on the item page (the server measures time).
// Everything else works without this script; the server checks every value again.
(function () {
  "use strict";
  const form = document.getElementById("annotation-form");
  if (!form) return;
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const message = document.getElementById("form-message");
  const submitButton = document.getElementById("submit");
  let submitting = false;

  function showMessage(text) {
    message.textContent = text;
    message.classList.toggle("hidden", !text);
  }

  function isTyping(el) {
    return el && (el.tagName === "TEXTAREA" || el.tagName === "SELECT" ||
      (el.tagName === "INPUT" && ["text", "number", "password", "search"].includes(el.type)));
  }

  function submit() {
    if (form.requestSubmit) form.requestSubmit(); else form.submit();
  }

  // ---- sliders (ESA's 0-100): slider and number box stay in step; an untouched one is not submitted
  const touched = new Set(data.touched || []);
  document.querySelectorAll("input.scale-slider").forEach((slider) => {
    const name = slider.dataset.scale;
    const box = document.getElementById("scale-" + name + "-number");
    slider.addEventListener("input", () => { if (box) box.value = slider.value; touched.add(name); });
    if (box) box.addEventListener("input", () => {
      if (box.value !== "") { slider.value = box.value; touched.add(name); }
    });
  });

  // Anchors under the slider's thumb positions (CSSOM custom properties: allowed by the CSP, unlike
  // inline style attributes).
  document.querySelectorAll("ol.anchors").forEach((list) => {
    list.querySelectorAll("li.anchor").forEach((li) => li.style.setProperty("--at", li.dataset.at));
    list.classList.add("placed");
  });

  // ---- spans: offsets in code points, as Python counts them --------------------------------------
  // The shown text is the translation plus, when the protocol has one, " [MISSING]": a span that
  // starts past the translation marks missing content and is stored without a position.
  const target = document.getElementById("target");
  const spansField = document.getElementById("spans-field");
  const spanList = document.getElementById("span-list");
  const category = document.getElementById("span-category");
  const chars = Array.from(data.shown_text || data.target_text);
  const targetLength = Array.from(data.target_text).length;
  const tokenStart = chars.length > targetLength ? targetLength + 1 : null;
  let spans = Array.isArray(data.spans) ? data.spans.map((s) => ({ ...s })) : [];

  function codePoints(text) { return Array.from(text).length; }

  function selectionOffsets() {
    const sel = window.getSelection();
    if (!target || !sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!target.contains(range.startContainer) || !target.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.setStart(target, 0);
    before.setEnd(range.startContainer, range.startOffset);
    const start = codePoints(before.toString());
    const end = start + codePoints(range.toString());
    return end > start ? { start, end } : null;
  }

  // Keyboard selection: words of the shown text; a caret word and an anchor word.
  const words = [];
  for (let i = 0; i < chars.length;) {
    if (/\s/.test(chars[i])) { i++; continue; }
    let j = i;
    while (j < chars.length && !/\s/.test(chars[j])) j++;
    words.push([i, j]);
    i = j;
  }
  let caret = -1, anchor = -1;

  function domPoint(offset) {
    // (text node, UTF-16 offset) of a code point offset in the rendered #target
    const walker = document.createTreeWalker(target, NodeFilter.SHOW_TEXT);
    let left = offset, node = null, last = null;
    while ((node = walker.nextNode())) {
      const cps = Array.from(node.textContent);
      if (left <= cps.length) return [node, cps.slice(0, left).join("").length];
      left -= cps.length;
      last = node;
    }
    return last ? [last, last.textContent.length] : [target, 0];
  }

  function selectWords() {
    if (caret < 0) return;
    const a = Math.min(caret, anchor), b = Math.max(caret, anchor);
    const [startNode, startOffset] = domPoint(words[a][0]);
    const [endNode, endOffset] = domPoint(words[b][1]);
    window.getSelection().setBaseAndExtent(startNode, startOffset, endNode, endOffset);
  }

  function severityRank(name) { return data.severities.indexOf(name) + 1; }

  function spanRange(s) {
    return s.start === null || s.start === undefined ? [tokenStart, chars.length] : [s.start, s.end];
  }

  function renderSpans() {
    if (!target) return;
    spans.sort((a, b) => spanRange(a)[0] - spanRange(b)[0]);
    target.textContent = "";
    let at = 0;
    const shown = [];
    for (const s of spans) {  // missing-content spans share the token: draw it once
      const [start, end] = spanRange(s);
      if (shown.length && start < shown[shown.length - 1].end) continue;
      shown.push({ start, end, s });
    }
    for (const { start, end, s } of shown) {
      target.append(chars.slice(at, start).join(""));
      const mark = document.createElement("mark");
      mark.className = "span sev-" + severityRank(s.severity);
      mark.title = s.severity + (s.category ? " · " + s.category : "");
      mark.textContent = chars.slice(start, end).join("");
      target.append(mark);
      at = end;
    }
    target.append(chars.slice(at).join(""));
    spanList.textContent = "";
    spans.forEach((s, i) => {
      const [start, end] = spanRange(s);
      const li = document.createElement("li");
      li.textContent = "«" + chars.slice(start, end).join("") + "» " + s.severity +
        (s.category ? " · " + s.category : "");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.title = "remove this span";
      remove.setAttribute("aria-label", "remove span " + (i + 1));
      remove.addEventListener("click", () => { spans.splice(i, 1); renderSpans(); });
      li.append(remove);
      spanList.append(li);
    });
    spansField.value = JSON.stringify(spans.map(({ text, ...rest }) => rest));
    if (caret >= 0 && document.activeElement === target) selectWords();
  }

  function addSpan(severity) {
    const range = selectionOffsets();
    if (!range) { showMessage("Select some text in the translation first."); return false; }
    let span;
    if (tokenStart !== null && range.start >= targetLength) {
      span = { start: null, end: null, severity };  // on the missing token
    } else {
      const end = Math.min(range.end, targetLength);
      if (spans.some((s) => s.start !== null && s.start !== undefined && range.start < s.end && s.start < end)) {
        showMessage("That overlaps a span already marked; remove it first.");
        return false;
      }
      span = { start: range.start, end, severity };
    }
    if (category) span.category = category.value;
    spans.push(span);
    window.getSelection().removeAllRanges();
    caret = anchor = -1;
    showMessage("");
    renderSpans();
    return true;
  }

  if (spansField && target) {
    document.querySelectorAll("button.mark").forEach((b) => {
      b.addEventListener("mousedown", (ev) => ev.preventDefault());  // keep the selection
      b.addEventListener("click", () => addSpan(b.dataset.severity));
    });
    target.addEventListener("keydown", (ev) => {
      if (!words.length || !["ArrowLeft", "ArrowRight", "Home", "End"].includes(ev.key)) return;
      ev.preventDefault();
      const next = ev.key === "Home" ? 0 : ev.key === "End" ? words.length - 1
        : caret < 0 ? (ev.key === "ArrowRight" ? 0 : words.length - 1)
        : Math.max(0, Math.min(words.length - 1, caret + (ev.key === "ArrowRight" ? 1 : -1)));
      if (!ev.shiftKey || anchor < 0) anchor = next;
      caret = next;
      selectWords();
    });
    renderSpans();
  }

  // ---- choice scales (Likert): digits rate the highlighted scale, then move to the next -----------
  const scales = Array.from(document.querySelectorAll("fieldset.likert"));
  let active = Math.max(0, scales.findIndex((f) => !f.querySelector("input:checked")));
  function highlight() { scales.forEach((f, i) => f.classList.toggle("active", i === active)); }
  scales.forEach((f, i) => f.addEventListener("change", () => {
    active = Math.min(i + 1, scales.length - 1); highlight();
  }));
  highlight();

  function rate(digit) {
    const fieldset = scales[active];
    const input = fieldset && fieldset.querySelector('input[value="' + digit + '"]');
    if (!input) return false;
    input.checked = true;
    active = Math.min(active + 1, scales.length - 1);
    highlight();
    return true;
  }

  // ---- keyboard -------------------------------------------------------------------------------
  document.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter" && (ev.ctrlKey || ev.metaKey)) { ev.preventDefault(); submit(); return; }
    if (ev.altKey || ev.ctrlKey || ev.metaKey) return;
    const el = ev.target;
    if (isTyping(el)) return;
    if (ev.key === "Enter") {
      if (el && (el.tagName === "BUTTON" || el.tagName === "A")) return;
      ev.preventDefault();
      submit();
    } else if (ev.key === "n" || ev.key === "p") {
      const link = document.getElementById(ev.key === "n" ? "next" : "prev");
      if (link) window.location.href = link.href;
    } else if (ev.key === "u" && spansField && spans.length) {
      spans.pop();
      renderSpans();
    } else if (/^[0-9]$/.test(ev.key)) {
      const severity = data.severities[Number(ev.key) - 1];
      if (spansField && severity && selectionOffsets()) { ev.preventDefault(); addSpan(severity); return; }
      if (el && el.type === "range") return;  // digits do nothing on a slider; arrows move it
      if (scales.length && rate(ev.key)) ev.preventDefault();
    }
  });

  // ---- submit: no double submission, sliders must be set -------------------------------------------
  form.addEventListener("submit", (ev) => {
    if (submitting) { ev.preventDefault(); return; }
    const unset = (data.sliders || []).filter((name) => !touched.has(name));
    if (unset.length) {
      ev.preventDefault();
      showMessage("Set " + unset.join(", ") + " (move the slider or type a number) before submitting.");
      return;
    }
    submitting = true;
    setTimeout(() => { submitButton.disabled = true; }, 0);
  });
})();
