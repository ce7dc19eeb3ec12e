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
