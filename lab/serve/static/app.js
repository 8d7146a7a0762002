"use strict";
// Demo page logic: submit the text to /api/predict, draw the answer (the top-k class bars; a
// regression model's number; a multi-label model's labels above 0.5 and every label's own
// bar), flag to /api/flag.
(() => {
  const app = document.getElementById("app");
  const topK = Number(app.dataset.topk);
  const problem = app.dataset.problem; // classification, regression or multilabel
  const $ = (id) => document.getElementById(id);
  const text = $("text"), form = $("form"), submit = $("submit"), flag = $("flag");
  const labelEl = $("label"), bars = $("bars"), latency = $("latency"), error = $("error");
  let last = null; // the text and the prediction on screen, as /api/flag takes them

  function showError(msg) {
    error.textContent = msg;
    error.hidden = !msg;
  }

  // headline is the answer's one-line summary.
  function headline(pred) {
    if (problem === "regression") return pred.score.toFixed(3);
    if (problem === "multilabel") return pred.labels.length ? pred.labels.join(", ") : "(no label above 0.5)";
    return pred.label;
  }

  function render(pred, ms, serverMs) {
    labelEl.textContent = headline(pred);
    labelEl.className = problem === "regression" ? "score" : "";
    bars.replaceChildren();
    // Multi-label scores are independent probabilities: every label gets its bar.
    const shown = problem === "multilabel" ? Infinity : topK;
    const ranked = Object.entries(pred.scores || {}).sort((a, b) => b[1] - a[1]).slice(0, shown);
    for (const [name, p] of ranked) {
      const pct = (100 * p).toFixed(1) + "%";
      const li = document.createElement("li");
      li.className = "bar";
      li.dataset.label = name;
      const row = document.createElement("div");
      row.className = "bar-text";
      const n = document.createElement("span");
      n.textContent = name;
      const v = document.createElement("span");
      v.textContent = pct;
      row.append(n, v);
      const track = document.createElement("div");
      track.className = "bar-track";
      track.setAttribute("role", "meter");
      track.setAttribute("aria-label", name);
      track.setAttribute("aria-valuemin", "0");
      track.setAttribute("aria-valuemax", "1");
      track.setAttribute("aria-valuenow", String(p));
      const fill = document.createElement("div");
      fill.className = "bar-fill";
      fill.style.width = pct;
      track.append(fill);
      li.append(row, track);
      bars.append(li);
    }
    latency.textContent = `Latency: ${ms.toFixed(0)} ms (server ${serverMs.toFixed(1)} ms)` +
      (pred.truncated ? " · the text was truncated" : "");
  }

  async function predict() {
    const value = text.value;
    if (!value.trim()) {
      showError("Type a text first.");
      text.focus();
      return;
    }
    showError("");
    submit.disabled = true;
    const t0 = performance.now();
    try {
      const resp = await fetch("/api/predict", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ texts: [value] }),
      });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || resp.statusText);
      const pred = body.predictions[0];
      render(pred, performance.now() - t0, body.latency_ms);
      last = problem === "regression" ? { text: value, score: pred.score }
        : problem === "multilabel" ? { text: value, labels: pred.labels, scores: pred.scores }
        : { text: value, label: pred.label, scores: pred.scores };
      if (flag) flag.disabled = false;
      if ($("flag-status")) $("flag-status").textContent = "";
    } catch (e) {
      showError(`Prediction failed: ${e.message}`);
    } finally {
      submit.disabled = false;
    }
  }

  function clear() {
    text.value = "";
    last = null;
    labelEl.textContent = "No prediction yet.";
    labelEl.className = "label-empty";
    bars.replaceChildren();
    latency.textContent = "";
    showError("");
    if (flag) flag.disabled = true;
    text.focus();
  }

  async function flagIt() {
    if (!last) return;
    flag.disabled = true;
    try {
      const resp = await fetch("/api/flag", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(last),
      });
      const body = await resp.json();
      if (!resp.ok) throw new Error(body.error || resp.statusText);
      $("flag-status").textContent = "Flagged. Thank you!";
    } catch (e) {
      showError(`Flagging failed: ${e.message}`);
      flag.disabled = false;
    }
  }

  form.addEventListener("submit", (e) => { e.preventDefault(); predict(); });
  text.addEventListener("keydown", (e) => {
    if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); predict(); }
  });
  $("clear").addEventListener("click", clear);
  if (flag) flag.addEventListener("click", flagIt);
  for (const b of document.querySelectorAll("button.example")) {
    b.addEventListener("click", () => { text.value = b.textContent; predict(); });
  }
  // A link to /?text=... opens the page with that text and its prediction (to share a result,
  // or to take a screenshot of one).
  const given = new URLSearchParams(location.search).get("text");
  if (given) {
    text.value = given;
    predict();
  }
})();
