/* The fraud rules' and the engine's charts (staff_risk_rule.html,
 * staff_risk_performance.html), drawn with Apache ECharts from the figures the page
 * carries in <script type="application/json" id="monitor-data">, keyed by the id of
 * the chart's element: a rule's hits per day (a backtest, its shadow hits) as bars,
 * and the drift of the scores as a PSI line over its 0.1 and 0.25 bands. ECharts,
 * vendored under /static, is loaded once. Without JavaScript the tables say the same. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[src$='risk_monitor.js']");
  var words = JSON.parse(script.getAttribute("data-words"));
  var TOOLTIP = "richText";  // HTML tooltips carry style="", which the CSP refuses
  var GRID = { left: 8, right: 12, top: 36, bottom: 28, containLabel: true };
  var TITLE = function (text) { return { text: text, left: "center", textStyle: { fontSize: 14 } }; };

  function hits(node, figures) {
    var chart = echarts.init(node);
    chart.setOption({
      title: TITLE(words[node.id]),
      tooltip: { trigger: "axis", renderMode: TOOLTIP },
      grid: GRID,
      xAxis: { type: "category", data: figures.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: words.hits, type: "bar", data: figures.hits }]
    });
    return chart;
  }

  function drift(node, figures) {
    var chart = echarts.init(node);
    var top = Math.max(figures.act * 1.6, Math.max.apply(null, figures.psi.map(function (v) { return v || 0; })) * 1.1);
    chart.setOption({
      title: TITLE(words[node.id]),
      tooltip: { trigger: "axis", renderMode: TOOLTIP },
      grid: GRID,
      xAxis: { type: "category", data: figures.days },
      yAxis: { type: "value", min: 0, max: Number(top.toFixed(2)) },
      series: [{
        name: "PSI", type: "line", data: figures.psi, connectNulls: false, showSymbol: true,
        markArea: {
          silent: true,
          data: [
            [{ name: words.watch, yAxis: figures.watch, itemStyle: { color: "rgba(240, 160, 0, 0.12)" } }, { yAxis: figures.act }],
            [{ name: words.act, yAxis: figures.act, itemStyle: { color: "rgba(199, 0, 11, 0.10)" } }, { yAxis: top }]
          ]
        },
        markLine: {
          silent: true, symbol: "none",
          data: [{ yAxis: figures.watch }, { yAxis: figures.act }],
          lineStyle: { color: "#c7000b", type: "dashed" }
        }
      }]
    });
    return chart;
  }

  function draw() {
    var source = document.getElementById("monitor-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var charts = Object.keys(data).map(function (id) {
      var node = document.getElementById(id);
      return id === "chart-drift" ? drift(node, data[id]) : hits(node, data[id]);
    });
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    document.body.addEventListener("htmx:beforeSwap", function leave() {
      window.removeEventListener("resize", resize);
      charts.forEach(function (c) { c.dispose(); });
      document.body.removeEventListener("htmx:beforeSwap", leave);
    });
  }

  if (window.echarts) {
    draw();
  } else {
    var loader = document.createElement("script");
    loader.src = script.getAttribute("data-echarts");
    loader.onload = draw;
    document.head.appendChild(loader);
  }
})();
