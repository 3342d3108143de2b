// A sign-in link carries its one-time secret after '#': browsers never send that part to the server, so it
// reaches no log. Move it into the form, take it out of the address bar and history, and wait for a click
// (signing in without one would let another site sign a visitor in as someone else).
(function () {
  var secret = decodeURIComponent(window.location.hash.replace(/^#/, ""));
  history.replaceState(null, "", window.location.pathname);
  var field = document.getElementById("link");
  var button = document.getElementById("link-continue");
  if (secret && field && button) {
    field.value = secret;
    button.disabled = false;
    button.focus();
  } else if (button) {
    document.getElementById("link-help").textContent = "This address holds no sign-in link. Open the link your course staff sent you, or sign in with your token.";
  }
})();
