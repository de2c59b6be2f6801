// The checkout page's live parts: the status follows the server's event
// stream, the time left counts down, the copy button copies the address.
// Without this script the page works too (it reloads itself).
(function () {
  "use strict";
  var $ = function (id) { return document.getElementById(id); };
  var status = $("status");
  if (!status) { return; }

  var copy = $("copy");
  if (copy) {
    copy.hidden = false;
    copy.addEventListener("click", function () {
      var text = $("address").textContent;
      var done = function () { copy.textContent = "Copied"; setTimeout(function () { copy.textContent = "Copy address"; }, 2000); };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(done, function () { select(); });
      } else { select(); done(); }
    });
  }
  function select() {
    var range = document.createRange();
    range.selectNodeContents($("address"));
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    try { document.execCommand("copy"); } catch (e) { /* the address stays selected */ }
  }

  var left = $("time-left");
  var deadline = 0;
  function setDeadline(ms) { deadline = Date.now() + ms; tick(); }
  function pad(n) { return n < 10 ? "0" + n : "" + n; }
  function tick() {
    if (!left) { return; }
    var s = Math.max(0, Math.floor((deadline - Date.now()) / 1000));
    var h = Math.floor(s / 3600), m = Math.floor(s / 60) % 60;
    left.textContent = (h > 0 ? h + ":" + pad(m) : m) + ":" + pad(s % 60);
  }
  if (left) {
    setDeadline(parseInt(left.getAttribute("data-expires-in-ms"), 10) || 0);
    setInterval(tick, 1000);
  }

  function show(st) {
    status.textContent = st.status;
    status.className = "status status-" + st.status;
    $("title").textContent = st.title;
    $("detail").textContent = st.detail;
    $("due").hidden = !st.due;
    $("due-amount").textContent = st.due;
    $("pay").hidden = !st.payable;
    if (st.payable) { setDeadline(st.expires_in_ms); }
  }

  if (window.EventSource) {
    var es = new EventSource(status.getAttribute("data-events"));
    es.addEventListener("state", function (e) {
      try { show(JSON.parse(e.data)); } catch (err) { /* keep what is shown */ }
    });
  }
})();
