/* An original's page: the URL builder's live preview, the server's word when a value is refused, and Copy. */
(function () {
  "use strict";

  const form = document.getElementById("builder");
  if (!form) return;
  const preview = document.getElementById("preview");
  const status = document.getElementById("preview-status");
  const urlField = document.getElementById("variant-url");
  const refusal = document.getElementById("builder-error");
  const copy = document.getElementById("copy-url");
  const fields = Array.from(form.querySelectorAll("[data-param]")); // one per parameter the server knows
  let timer = null;

  function query() {
    const params = new URLSearchParams();
    for (const field of fields) {
      const value = field.value.trim();
      if (value) params.append(field.name, value);
    }
    return params.toString();
  }

  let requested = query(); // the server drew the page for this; only the newest change may touch the preview

  function showRefusal(text) {
    refusal.textContent = text;
    refusal.hidden = !text;
  }

  function described() {
    status.textContent = preview.naturalWidth + " × " + preview.naturalHeight + " px";
  }

  async function update() {
    const qs = query();
    if (qs === requested) return;
    requested = qs;
    // A reload shows the same variant; "?w=" (all fields empty) is the untouched size, not the default.
    window.history.replaceState(null, "", "?" + (qs || "w="));
    // The server writes the URL: canonical, and signed when this server wants it and may sign it for us.
    const response = await fetch(form.dataset.linkUrl + "?" + qs, {
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    const body = await response.json().catch(() => ({}));
    if (qs !== requested) return; // a newer change won the race
    if (!response.ok) {
      showRefusal(body.error || "The server answered " + response.status + ".");
      status.textContent = "";
      return;
    }
    showRefusal("");
    urlField.value = body.absolute_url;
    if (preview.getAttribute("src") === body.url) {
      described();
    } else {
      status.textContent = "Rendering…";
      preview.src = body.url;
    }
  }

  async function copyUrl() {
    urlField.select();
    try {
      await navigator.clipboard.writeText(urlField.value);
      copy.textContent = "Copied";
    } catch (error) {
      copy.textContent = document.execCommand("copy") ? "Copied" : "Press Ctrl+C";
    }
    window.setTimeout(() => { copy.textContent = "Copy"; }, 1500);
  }

  preview.addEventListener("load", described);
  preview.addEventListener("error", () => {
    status.textContent = "";
    showRefusal("The server could not render this variant.");
  });
  if (preview.complete && preview.naturalWidth) described();
  form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
  form.addEventListener("change", update);
  form.addEventListener("input", () => {
    window.clearTimeout(timer);
    timer = window.setTimeout(update, 300);
  });
  form.querySelector("[type=submit]").hidden = true; // without JavaScript it asks the server; here it is live
  copy.hidden = false;
  copy.addEventListener("click", copyUrl);
})();

/* An original's page: pick the focal point by clicking the picture; saved through the API (PATCH). */
(function () {
  "use strict";

  const form = document.getElementById("focal");
  if (!form) return;
  const picture = document.getElementById("focal-picture");
  const ring = document.getElementById("focal-ring");
  const state = document.getElementById("focal-state");
  const refusal = document.getElementById("focal-error");
  const inputs = { x: form.elements.namedItem("focal_x"), y: form.elements.namedItem("focal_y") };
  const token = form.elements.namedItem("csrfmiddlewaretoken").value;

  function place(x, y) {
    if (x === null) {
      ring.setAttribute("hidden", "");
      return;
    }
    ring.setAttribute("cx", (x * 100).toFixed(2) + "%");
    ring.setAttribute("cy", (y * 100).toFixed(2) + "%");
    ring.removeAttribute("hidden");
  }

  function showRefusal(text) {
    refusal.textContent = text;
    refusal.hidden = !text;
  }

  // The builder's preview may use gravity=focal: its URL is the same, its picture is not, so fetch it anew.
  async function refreshPreview() {
    const preview = document.getElementById("preview");
    const src = preview && preview.getAttribute("src");
    if (!src || !/[?&]gravity=focal(&|$)/.test(src)) return;
    const response = await fetch(src, { cache: "reload", credentials: "same-origin" });
    if (response.ok) preview.src = URL.createObjectURL(await response.blob());
  }

  async function save(point) {
    showRefusal("");
    const response = await fetch(form.dataset.apiUrl, {
      method: "PATCH",
      headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": token },
      credentials: "same-origin",
      body: JSON.stringify({ focal_x: point.x, focal_y: point.y }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) {
      showRefusal(body.error || "The server answered " + response.status + ".");
      return;
    }
    inputs.x.value = body.focal_x === null ? "" : body.focal_x;
    inputs.y.value = body.focal_y === null ? "" : body.focal_y;
    place(body.focal_x, body.focal_y);
    state.textContent = body.focal_x === null
      ? "Not set: they keep the centre."
      : "Now at " + body.focal_x + ", " + body.focal_y + " (from the left, from the top).";
    refreshPreview();
  }

  function fromInputs() {
    const x = inputs.x.value.trim();
    const y = inputs.y.value.trim();
    // Numbers go as JSON numbers; anything else goes as typed, so the server says what is wrong with it.
    return { x: x === "" || isNaN(Number(x)) ? x || null : Number(x), y: y === "" || isNaN(Number(y)) ? y || null : Number(y) };
  }

  picture.addEventListener("click", (event) => {
    const box = picture.getBoundingClientRect();
    const x = Math.min(1, Math.max(0, (event.clientX - box.left) / box.width));
    const y = Math.min(1, Math.max(0, (event.clientY - box.top) / box.height));
    save({ x: Math.round(x * 10000) / 10000, y: Math.round(y * 10000) / 10000 });
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const clear = event.submitter && event.submitter.value === "clear";
    save(clear ? { x: null, y: null } : fromInputs());
  });
})();
