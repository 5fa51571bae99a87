/* safetymap: the map's payload asked for before anything else in the map's iframe runs (issue 16).
 *
 * The map page puts this script first among the map's scripts, as a data: URL that calls SMPearly with the
 * revision's token and the map's other script and style addresses, so the fetch of the coarse payload overlaps
 * the loading of Leaflet, its plugins and patches.js; patches.js takes the response when it asks for that same
 * address, and fetches itself otherwise.
 */
window.SMPearly = function (token, scripts, styles) {
  "use strict";
  var path = window.location.pathname, at = path.indexOf("/component/");
  var url = new URL((at >= 0 ? path.slice(0, at) : "") + "/api/patches/coarse/" + encodeURIComponent(token),
                    window.location.href).href;
  window.SMPearly.pending = {url: url, response: fetch(url, {credentials: "same-origin"})};
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
