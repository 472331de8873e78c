// babelvl annotate: keyboard shortcuts, span marking and time measurement on the item page.
// Everything else works without this script; the server checks every value again.
(function () {
  "use strict";
  const form = document.getElementById("annotation-form");
  if (!form) return;
  const data = JSON.parse(document.getElementById("page-data").textContent);
  const startedAt = performance.now();
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

  // ---- ESA score: slider and number box stay in step; an untouched score is not submitted -------
  const slider = document.getElementById("score");
  const numberBox = document.getElementById("score-number");
  let scoreTouched = Boolean(data.has_score);
  if (slider && numberBox) {
    slider.addEventListener("input", () => { numberBox.value = slider.value; scoreTouched = true; });
    numberBox.addEventListener("input", () => {
      if (numberBox.value !== "") { slider.value = numberBox.value; scoreTouched = true; }
    });
  }

  // ---- spans (ESA, MQM): offsets in code points, as Python counts them ------------------------
  const target = document.getElementById("target");
  const spansField = document.getElementById("spans-field");
  const spanList = document.getElementById("span-list");
  const category = document.getElementById("span-category");
  const chars = Array.from(data.target_text);
  let spans = Array.isArray(data.spans) ? data.spans.map((s) => ({ ...s })) : [];

  function codePoints(text) { return Array.from(text).length; }

  function selectionOffsets() {
    const sel = window.getSelection();
    if (!sel || sel.rangeCount === 0 || sel.isCollapsed) return null;
    const range = sel.getRangeAt(0);
    if (!target.contains(range.startContainer) || !target.contains(range.endContainer)) return null;
    const before = document.createRange();
    before.setStart(target, 0);
    before.setEnd(range.startContainer, range.startOffset);
    const start = codePoints(before.toString());
    const end = start + codePoints(range.toString());
    return end > start ? { start, end } : null;
  }

  function severityRank(name) { return data.severities.indexOf(name) + 1; }

  function renderSpans() {
    if (!target) return;
    spans.sort((a, b) => a.start - b.start);
    target.textContent = "";
    let at = 0;
    for (const s of spans) {
      target.append(chars.slice(at, s.start).join(""));
      const mark = document.createElement("mark");
      mark.className = "span sev-" + severityRank(s.severity);
      mark.title = s.severity + (s.category ? " · " + s.category : "");
      mark.textContent = chars.slice(s.start, s.end).join("");
      target.append(mark);
      at = s.end;
    }
    target.append(chars.slice(at).join(""));
    spanList.textContent = "";
    spans.forEach((s, i) => {
      const li = document.createElement("li");
      li.textContent = "«" + chars.slice(s.start, s.end).join("") + "» " + s.severity +
        (s.category ? " · " + s.category : "");
      const remove = document.createElement("button");
      remove.type = "button";
      remove.textContent = "×";
      remove.title = "remove this span";
      remove.addEventListener("click", () => { spans.splice(i, 1); renderSpans(); });
      li.append(remove);
      spanList.append(li);
    });
    spansField.value = JSON.stringify(spans.map(({ text, ...rest }) => rest));
  }

  function addSpan(severity) {
    const range = selectionOffsets();
    if (!range) { showMessage("Select some text in the translation first."); return false; }
    if (spans.some((s) => range.start < s.end && s.start < range.end)) {
      showMessage("That overlaps a span already marked; remove it first.");
      return false;
    }
    const span = { start: range.start, end: range.end, severity };
    if (category) span.category = category.value;
    spans.push(span);
    window.getSelection().removeAllRanges();
    showMessage("");
    renderSpans();
    return true;
  }

  if (spansField && target) {
    document.querySelectorAll("button.mark").forEach((b) => {
      b.addEventListener("mousedown", (ev) => ev.preventDefault());  // keep the selection
      b.addEventListener("click", () => addSpan(b.dataset.severity));
    });
    renderSpans();
  }

  // ---- Likert: digits rate the highlighted scale, then move to the next -----------------------
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
      if (scales.length && rate(ev.key)) { ev.preventDefault(); return; }
      const severity = data.severities[Number(ev.key) - 1];
      if (spansField && severity && selectionOffsets()) { ev.preventDefault(); addSpan(severity); }
    }
  });

  // ---- submit: time on page, no double submission, ESA score required --------------------------
  form.addEventListener("submit", (ev) => {
    if (submitting) { ev.preventDefault(); return; }
    if (slider && !scoreTouched) {
      ev.preventDefault();
      showMessage("Set the overall score (move the slider or type a number) before submitting.");
      return;
    }
    form.elements["client_seconds"].value = ((performance.now() - startedAt) / 1000).toFixed(2);
    submitting = true;
    setTimeout(() => { submitButton.disabled = true; }, 0);
  });
})();
