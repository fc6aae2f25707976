/* The risk desk's charts (staff_risk.html), drawn with Apache ECharts (by way of
 * charts.js) from the figures the page carries in <script type="application/json"
 * id="risk-data">: alerts per hour, the score distribution, decisions by outcome day by
 * day, and the LCR trend (%). Without JavaScript the page's tables say the same. */
(function () {
  "use strict";
  var words = rongCharts.words("risk.js");

  function bars(node, title, labels, series, stacked) {
    return rongCharts.chart(node, {
      title: rongCharts.title(title),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      legend: series.length > 1 ? { bottom: 0 } : undefined,
      grid: rongCharts.GRID,
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", minInterval: 1 },
      series: series.map(function (s) {
        return { name: s.name, type: "bar", data: s.data, stack: stacked ? "all" : undefined };
      })
    });
  }

  function lcr(node, title, labels, values) {
    return rongCharts.chart(node, {
      title: rongCharts.title(title),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      grid: rongCharts.GRID,
      xAxis: { type: "category", data: labels },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: [{
        name: "LCR", type: "line", data: values, showSymbol: labels.length < 40,
        markLine: { silent: true, symbol: "none", data: [{ yAxis: 100 }], lineStyle: { color: "#c7000b", type: "dashed" } }
      }]
    });
  }

  rongCharts.draw("risk-data", function (data) {
    var node = function (id) { return document.getElementById(id); };
    return [
      bars(node("chart-per-hour"), words.per_hour, data.hours, [{ name: words.alerts, data: data.per_hour }]),
      bars(node("chart-scores"), words.scores, data.bins, [{ name: words.alerts, data: data.scores }]),
      bars(node("chart-decisions"), words.decisions, data.days, Object.keys(data.decisions).map(function (o) {
        return { name: words.outcomes[o] || o, data: data.decisions[o] };
      }), true),
      lcr(node("chart-lcr"), words.lcr_trend, data.lcr_days, data.lcr)
    ];
  }, function (event) {
    // The live alerts' own refresh swaps a fragment: the charts stay.
    return event.detail && event.detail.target && event.detail.target.id === "risk-alerts-live";
  });
})();
