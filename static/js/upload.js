/* The upload page: Dropzone on the zone, new uploads into the gallery, and the gallery's "Load more". */
(function () {
  "use strict";

  const gallery = document.getElementById("gallery");
  const zone = document.getElementById("upload-zone");
  const more = document.getElementById("gallery-more");
  const THUMB_MAX_BYTES = 10 * 1000 * 1000; // larger files get no local preview: decoding them costs too much

  async function fetchFragment(url) {
    const response = await fetch(url, { headers: { Accept: "text/html" }, credentials: "same-origin" });
    if (!response.ok) throw new Error(url + " answered " + response.status);
    return new DOMParser().parseFromString(await response.text(), "text/html");
  }

  function inGallery(tile) {
    return gallery.querySelector('[data-id="' + CSS.escape(tile.dataset.id) + '"]') !== null;
  }

  function updateCount(added) {
    const count = document.getElementById("gallery-count");
    const total = parseInt(count.textContent, 10) + added;
    count.textContent = total + (total === 1 ? " picture" : " pictures");
    const empty = document.getElementById("gallery-empty");
    if (empty && total > 0) empty.remove();
  }

  async function showNewOriginal(id) {
    const doc = await fetchFragment(zone.dataset.itemUrl.replace("ORIGINAL_ID", encodeURIComponent(id)));
    const tile = doc.querySelector(".tile");
    if (tile && !inGallery(tile)) {
      gallery.prepend(tile);
      updateCount(1);
    }
  }

  async function loadMore(event) {
    event.preventDefault();
    more.setAttribute("aria-busy", "true");
    try {
      const list = (await fetchFragment(more.dataset.fragment)).querySelector("ul");
      for (const tile of Array.from(list.querySelectorAll(".tile"))) {
        if (!inGallery(tile)) gallery.append(tile); // uploads since the page was drawn shift the pages
      }
      if (list.dataset.nextFragment) {
        more.dataset.fragment = list.dataset.nextFragment;
        more.href = list.dataset.nextPage;
      } else {
        more.parentElement.remove();
      }
    } catch (error) {
      more.textContent = "Could not load more pictures: try again";
    } finally {
      more.removeAttribute("aria-busy");
    }
  }

  function previewLocally(file) {
    const img = file.previewElement.querySelector("[data-upload-thumb]");
    if (!file.type.startsWith("image/") || file.size > THUMB_MAX_BYTES) {
      img.remove();
      return;
    }
    const url = URL.createObjectURL(file);
    img.addEventListener("load", () => URL.revokeObjectURL(url), { once: true });
    img.addEventListener("error", () => { URL.revokeObjectURL(url); img.remove(); }, { once: true });
    img.src = url;
  }

  function explain(file, message, xhr) {
    // The server's refusals are JSON and Dropzone shows their "error"; anything else (a proxy's HTML page,
    // a dropped connection) gets a sentence instead of markup.
    if (typeof message === "string" && (message.trim().startsWith("<") || message.length > 300)) {
      const text = "The server answered " + (xhr ? xhr.status : "nothing") + "; try again later.";
      file.previewElement.querySelector("[data-dz-errormessage]").textContent = text;
    }
  }

  function openPicker(dropzone, event) {
    // As a native button does: Enter opens on keydown, Space on keyup (its keydown would scroll the page).
    const opens = event.type === "keydown" ? event.key === "Enter" : event.key === " ";
    if (event.key === " " || opens) event.preventDefault();
    if (opens) dropzone.hiddenFileInput.click();
  }

  if (zone && window.Dropzone) {
    const dropzone = new window.Dropzone(zone, {
      url: zone.action,
      paramName: "file",
      maxFilesize: Number(zone.dataset.maxBytes) / (1024 * 1024), // Dropzone counts in MiB
      acceptedFiles: zone.dataset.accept,
      dictFileTooBig: zone.dataset.tooBig,
      dictInvalidFileType: zone.dataset.wrongType,
      dictResponseError: "The server answered {{statusCode}}; try again later.",
      dictFileSizeUnits: { tb: "TB", gb: "GB", mb: "MB", kb: "kB", b: "bytes" },
      previewsContainer: "#uploads",
      previewTemplate: document.getElementById("upload-preview").innerHTML.trim(),
      createImageThumbnails: false, // previewLocally() shows the file itself: no canvas, no client-side errors
      parallelUploads: 3,
    });
    dropzone.on("addedfile", previewLocally);
    dropzone.on("error", explain);
    dropzone.on("success", (file, body) => {
      if (body && body.id) showNewOriginal(body.id).catch(() => {});
    });
    const message = zone.querySelector(".zone-message");
    message.addEventListener("keydown", (event) => openPicker(dropzone, event));
    message.addEventListener("keyup", (event) => openPicker(dropzone, event));
  }
  if (more) more.addEventListener("click", loadMore);
})();
