/* safetymap: the map's payload asked for before anything else in the map's iframe runs (issue 16).
 *
 * The map page puts this script first among the map's scripts, as a data: URL that calls SMPearly with the
 * revision's token, the map's other script and style addresses and the decoder's (decode.js). A worker asks
 * for the coarse payload first thing, then loads decode.js, which decodes the payload as it arrives, while
 * the page loads Leaflet, its plugins and patches.js; patches.js takes the decoded block when it asks for that
 * same address (and fetches it itself when no worker could run). The fetch's timing, the worker's last message,
 * is kept in SMPearly.timing (benchmarks, tests: the worker's requests are not among the page's performance
 * entries); it is undefined until then.
 */
window.SMPearly = function (token, scripts, styles, decoder) {
  "use strict";
  var path = window.location.pathname, at = path.indexOf("/component/");
  var url = new URL((at >= 0 ? path.slice(0, at) : "") + "/api/patches/coarse/" + encodeURIComponent(token),
                    window.location.href).href;
  window.SMPearly.pending = {url: url, block: new Promise(function (resolve, reject) {
    var worker, address, boot = "var asked = fetch(" + JSON.stringify(url) + ", {credentials: 'same-origin'});\n" +
      "importScripts(" + JSON.stringify(new URL(decoder, window.location.href).href) + ");\n" +
      "SMPdecode.serve(asked, " + JSON.stringify(url) + ");\n";
    try {  // its own few lines, not a file to fetch first: the payload is asked for as the worker starts
      address = URL.createObjectURL(new Blob([boot], {type: "text/javascript"}));
      worker = new Worker(address);
    } catch (error) {
      console.warn("the map's data is read without a worker", error);
      resolve(null);
      return;
    }
    worker.onmessage = function (e) {
      if ("timing" in e.data) {  // its last message, after the block
        window.SMPearly.timing = e.data.timing;
        worker.terminate();
        URL.revokeObjectURL(address);
      } else if (e.data.block) resolve(e.data.block);
      else reject(new Error(e.data.error));
    };
    worker.onerror = function (e) {  // the worker's script did not load or run: patches.js fetches the payload
      e.preventDefault();
      worker.terminate();
      URL.revokeObjectURL(address);
      window.SMPearly.timing = null;
      console.warn("the map's data is read without a worker", e.message);
      resolve(null);
    };
  })};
  // streamlit-folium asks for the map's scripts one after another, each once the one before has run: preloading
  // them all now lets their downloads overlap (each <script> then finds its file already fetched).
  [[scripts, "script"], [styles, "style"]].forEach(function (kind) {
    (kind[0] || []).forEach(function (href) {
      var link = document.createElement("link");
      link.rel = "preload";
      link.as = kind[1];
      link.href = href;
      document.head.appendChild(link);
    });
  });
};
