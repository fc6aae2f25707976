/* The risk desk's charts (staff_risk.html), drawn with Apache ECharts from the
 * figures the page carries in <script type="application/json" id="risk-data">:
 * alerts per hour, the score distribution, decisions by outcome day by day, and the
 * LCR trend (%). ECharts, vendored under /static, is loaded once. Without
 * JavaScript the page's tables say the same. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-words]");
  var words = JSON.parse(script.getAttribute("data-words"));
  var TOOLTIP = "richText";  // HTML tooltips carry style="", which the CSP refuses
  var GRID = { left: 8, right: 12, top: 36, bottom: 28, containLabel: true };

  function bars(node, title, labels, series, stacked) {
    var chart = echarts.init(node);
    chart.setOption({
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", renderMode: TOOLTIP },
      legend: series.length > 1 ? { bottom: 0 } : undefined,
      grid: GRID,
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, stack: stacked ? "all" : undefined };
      })
    });
    return chart;
  }

  function lcr(node, title, labels, values) {
    var chart = echarts.init(node);
    chart.setOption({
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", renderMode: TOOLTIP },
      grid: GRID,
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [{
        name: "LCR", type: "line", data: values, showSymbol: labels.length < 40,
        markLine: { silent: true, symbol: "none", data: [{ yAxis: 100 }], lineStyle: { color: "#c7000b", type: "dashed" } }
      }]
    });
    return chart;
  }

  function draw() {
    var source = document.getElementById("risk-data");
    if (!source) return;
    var data = JSON.parse(source.textContent);
    var node = function (id) { return document.getElementById(id); };
    var charts = [
      bars(node("chart-per-hour"), words.per_hour, data.hours, [{ name: words.alerts, data: data.per_hour }]),
      bars(node("chart-scores"), words.scores, data.bins, [{ name: words.alerts, data: data.scores }]),
      bars(node("chart-decisions"), words.decisions, data.days, Object.keys(data.decisions).map(function (o) {
        return { name: words.outcomes[o] || o, data: data.decisions[o] };
      }), true),
      lcr(node("chart-lcr"), words.lcr_trend, data.lcr_days, data.lcr)
    ];
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    document.body.addEventListener("htmx:beforeSwap", function leave(event) {
      // The live alerts' own refresh swaps a fragment: the charts stay.
      if (event.detail && event.detail.target && event.detail.target.id === "risk-alerts-live") return;
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
