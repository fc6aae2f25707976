/* The staff liquidity page's charts (staff_liquidity.html), drawn with Apache ECharts
 * (by way of charts.js) from the figures the page carries in
 * <script type="application/json" id="liquidity-data"> (ratios in %). Without
 * JavaScript the page's tables show the same figures. */
(function () {
  "use strict";
  var words = rongCharts.words("liquidity.js");

  function percent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(2) + "%";
  }

  function line(node, title, labels, series) {
    return rongCharts.chart(node, {
      title: rongCharts.title(title),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP, valueFormatter: percent },
      legend: { bottom: 0 },
      grid: rongCharts.GRID,
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: series.map(function (s) {
        return {
          name: s.name, type: "line", data: s.data, connectNulls: false, showSymbol: labels.length < 40,
          markLine: s.floor ? { silent: true, symbol: "none", data: [{ yAxis: 100 }], lineStyle: { color: "#c7000b", type: "dashed" } } : undefined
        };
      })
    });
  }

  rongCharts.draw("liquidity-data", function (data) {
    var trendNode = document.getElementById("chart-trend");
    var runNode = document.getElementById("chart-run");
    if (!trendNode || !runNode) return [];
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
    return charts;
  });
})();
