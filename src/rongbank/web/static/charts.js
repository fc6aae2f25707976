/* What every page that draws Apache ECharts does the same way (home.js, invest.js,
 * liquidity.js, mall_sales.js, portfolio.js, risk.js, risk_monitor.js): load ECharts
 * once (vendored under /static, named by this script's data-echarts), read the page's
 * figures from its <script type="application/json"> (the Content-Security-Policy runs
 * no inline script), keep the charts sized to the window, and free them when htmx
 * swaps the page out. A page script, loaded after this one, says only what its charts
 * are: rongCharts.draw("its-data", function (figures) { return [its charts]; }). */
(function () {
  "use strict";
  if (window.rongCharts) return;  // a boosted navigation runs this script again
  var self = document.currentScript || document.querySelector("script[src='/static/charts.js']");
  var echartsUrl = self.getAttribute("data-echarts");

  // Resize with the window; on a swap (unless `keep` says it leaves them), let go.
  function follow(charts, keep) {
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    document.body.addEventListener("htmx:beforeSwap", function leave(event) {
      if (keep && keep(event)) return;
      window.removeEventListener("resize", resize);
      charts.forEach(function (c) { c.dispose(); });
      document.body.removeEventListener("htmx:beforeSwap", leave);
    });
  }

  window.rongCharts = {
    // Tooltips drawn on the canvas: ECharts' HTML tooltips carry style="" attributes,
    // which the Content-Security-Policy (no 'unsafe-inline') refuses.
    TOOLTIP: "richText",
    GRID: { left: 8, right: 12, top: 36, bottom: 28, containLabel: true },

    title: function (text) {
      return { text: text, left: "center", textStyle: { fontSize: 14 } };
    },

    /* The words the running page script's tag carries in data-words (titles, names). */
    words: function (name) {
      var script = document.currentScript || document.querySelector("script[src='/static/" + name + "']");
      return JSON.parse(script.getAttribute("data-words"));
    },

    /* A chart of `option` in `node`. */
    chart: function (node, option) {
      var chart = echarts.init(node);
      chart.setOption(option);
      return chart;
    },

    /* Once ECharts is loaded, `make` draws the charts from the figures of the page's
     * #`dataId` and returns them (none where the page lacks their places); `keep(event)`,
     * if given, names the htmx swaps that leave them on the page. */
    draw: function (dataId, make, keep) {
      var now = function () {
        var source = document.getElementById(dataId);
        if (!source) return;
        follow(make(JSON.parse(source.textContent)), keep);
      };
      if (window.echarts) {
        now();
      } else {
        var loader = document.createElement("script");
        loader.src = echartsUrl;
        loader.onload = now;
        document.head.appendChild(loader);
      }
    }
  };
})();
