// Shows when the page was loaded, to tell a fresh deploy from a cached one.
document.addEventListener("DOMContentLoaded", function () {
  var stamp = document.getElementById("stamp");
  if (stamp) {
    stamp.textContent = "Loaded at " + new Date().toISOString();
  }
});
