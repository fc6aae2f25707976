/* The staff liquidity page's charts (staff_liquidity.html), drawn with Apache ECharts
 * from the figures the page carries in <script type="application/json"
 * id="liquidity-data"> (ratios in %). ECharts, vendored under /static, is loaded
 * once. Without JavaScript the page's tables show the same figures. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-words]");
  var words = JSON.parse(script.getAttribute("data-words"));
  var TOOLTIP = "richText";  // HTML tooltips carry style="", which the CSP refuses

  function percent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(2) + "%";
  }

  function line(node, title, labels, series) {
    var chart = echarts.init(node);
    chart.setOption({
      title: { text: title, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", renderMode: TOOLTIP, valueFormatter: percent },
      legend: { bottom: 0 },
      grid: { left: 8, right: 12, top: 36, bottom: 28, containLabel: true },
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: series.map(function (s) {
        return {
          name: s.name, type: "line", data: s.data, connectNulls: false, showSymbol: labels.length < 40,
          markLine: s.floor ? { silent: true, symbol: "none", data: [{ yAxis: 100 }], lineStyle: { color: "#c7000b", type: "dashed" } } : undefined
        };
      })
    });
    return chart;
  }

  function draw() {
    var source = document.getElementById("liquidity-data");
    var trendNode = document.getElementById("chart-trend");
    var runNode = document.getElementById("chart-run");
    if (!source || !trendNode || !runNode) return;
    var data = JSON.parse(source.textContent);
    var charts = [
      line(trendNode, words.trend, data.days, [
        { name: words.lcr, data: data.lcr, floor: true },
        { name: words.nsfr, data: data.nsfr }
      ])
    ];
    if (data.run) {
      charts.push(line(runNode, words.run, data.run.map(function (_, i) { return String(i); }), [
        { name: words.lcr, data: data.run, floor: true }
      ]));
    }
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
