// The spreadsheet drop area: shows the chosen file's name and highlights while a file is dragged over.
(function () {
  "use strict";
  document.querySelectorAll("[data-drop]").forEach(function (zone) {
    var input = zone.querySelector("input[type=file]");
    var name = zone.querySelector("[data-file-name]");
    if (!input) return;
    function show() {
      var file = input.files && input.files[0];
      if (name) {
        name.hidden = !file;
        name.textContent = file ? file.name + " · " + Math.max(1, Math.round(file.size / 1024)).toLocaleString() + " KB" : "";
      }
      zone.classList.toggle("chosen", !!file);
    }
    input.addEventListener("change", show);
    ["dragenter", "dragover"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.add("over"); });
    });
    ["dragleave", "drop"].forEach(function (type) {
      zone.addEventListener(type, function () { zone.classList.remove("over"); });
    });
    show();
  });
})();
