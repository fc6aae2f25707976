/* The fraud rules' and the engine's charts (staff_risk_rule.html,
 * staff_risk_performance.html), drawn with Apache ECharts (by way of charts.js) from
 * the figures the page carries in <script type="application/json" id="monitor-data">,
 * keyed by the id of the chart's element: a rule's hits per day (a backtest, its shadow
 * hits) as bars, and the drift of the scores as a PSI line over its 0.1 and 0.25
 * bands. Without JavaScript the tables say the same. */
(function () {
  "use strict";
  var words = rongCharts.words("risk_monitor.js");

  function hits(node, figures) {
    return rongCharts.chart(node, {
      title: rongCharts.title(words[node.id]),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      grid: rongCharts.GRID,
      xAxis: { type: "category", data: figures.days },
      yAxis: { type: "value", minInterval: 1 },
      series: [{ name: words.hits, type: "bar", data: figures.hits }]
    });
  }

  function drift(node, figures) {
    var top = Math.max(figures.act * 1.6, Math.max.apply(null, figures.psi.map(function (v) { return v || 0; })) * 1.1);
    return rongCharts.chart(node, {
      title: rongCharts.title(words[node.id]),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      grid: rongCharts.GRID,
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
  }

  rongCharts.draw("monitor-data", function (data) {
    return Object.keys(data).map(function (id) {
      var node = document.getElementById(id);
      return id === "chart-drift" ? drift(node, data[id]) : hits(node, data[id]);
    });
  });
})();
