// Upload: file picker or drag-and-drop, size and type checked before sending, then on to the live page.
"use strict";
(function () {
  const form = document.getElementById("upload");
  if (!form) return;
  const input = document.getElementById("file");
  const zone = document.getElementById("dropzone");
  const chosen = document.getElementById("chosen");
  const error = document.getElementById("upload-error");
  const submit = document.getElementById("submit");
  const maxBytes = Number(form.dataset.maxBytes);

  function human(n) {
    const units = ["B", "KiB", "MiB", "GiB"];
    let i = 0;
    while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + units[i];
  }

  function problem(file) {
    if (!file) return "Choose a .zip file first.";
    if (!/\.zip$/i.test(file.name)) return "“" + file.name + "” is not a .zip file; please upload a zip archive.";
    if (file.size === 0) return "“" + file.name + "” is empty.";
    if (file.size > maxBytes) return "“" + file.name + "” is " + human(file.size) + "; the limit is " + human(maxBytes) + ".";
    return "";
  }

  function show() {
    const file = input.files[0];
    chosen.textContent = file ? "Selected: " + file.name + " (" + human(file.size) + ")" : "";
    error.textContent = file ? problem(file) : "";
  }

  input.addEventListener("change", show);
  ["dragenter", "dragover"].forEach(function (type) {
    zone.addEventListener(type, function (e) { e.preventDefault(); zone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    zone.addEventListener(type, function () { zone.classList.remove("over"); });
  });
  zone.addEventListener("drop", function (e) {
    e.preventDefault();
    if (e.dataTransfer && e.dataTransfer.files.length) {
      input.files = e.dataTransfer.files;
      show();
    }
  });

  form.addEventListener("submit", async function (e) {
    e.preventDefault();
    const file = input.files[0];
    const message = problem(file);
    if (message) { error.textContent = message; input.focus(); return; }
    error.textContent = "";
    submit.disabled = true;
    submit.textContent = "Uploading…";
    try {
      const response = await fetch(form.action, {
        method: "POST", body: new FormData(form), credentials: "same-origin",
        headers: { "Accept": "application/json" },
      });
      const body = await response.json().catch(function () { return {}; });
      if (response.ok && body.url) { window.location.assign(body.url); return; }
      error.textContent = body.detail || ("The upload failed (HTTP " + response.status + ").");
    } catch (err) {
      error.textContent = "The upload failed: the server could not be reached.";
    }
    submit.disabled = false;
    submit.textContent = "Upload and grade";
  });
})();
