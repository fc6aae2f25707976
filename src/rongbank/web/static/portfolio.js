/* The staff lending portfolio's charts (staff_lending_portfolio.html), drawn with
 * Apache ECharts (by way of charts.js) from the figures the page carries in
 * <script type="application/json" id="portfolio-data"> (shares in %, money in fen).
 * The page's tables show the same figures without JavaScript. */
(function () {
  "use strict";
  var words = rongCharts.words("portfolio.js");

  function percent(value) {
    return value === null || value === undefined ? "—" : value.toFixed(1) + "%";
  }

  function applications(node, data) {
    return rongCharts.chart(node, {
      title: rongCharts.title(words.applications),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      legend: { bottom: 0 },
      grid: rongCharts.GRID,
      xAxis: { type: "category", data: data.applications.map(function (d) { return d.day; }) },
      yAxis: [
        { type: "value", minInterval: 1 },
        { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } }
      ],
      series: [
        { name: words.applied, type: "bar", data: data.applications.map(function (d) { return d.applications; }) },
        { name: words.rate, type: "line", yAxisIndex: 1, tooltip: { valueFormatter: percent },
          data: data.applications.map(function (d) { return d.share; }) }
      ]
    });
  }

  function categories(node, data) {
    return rongCharts.chart(node, {
      title: rongCharts.title(words.categories),
      tooltip: { trigger: "item", renderMode: rongCharts.TOOLTIP,
                 valueFormatter: function (v) { return "¥ " + (v / 100).toLocaleString(); } },
      legend: { bottom: 0 },
      series: [{
        type: "pie", radius: ["35%", "62%"], center: ["50%", "52%"],
        data: data.categories.map(function (c) { return { name: c.name, value: c.principal }; })
      }]
    });
  }

  function rolls(node, data) {
    var cells = [];
    data.rolls.forEach(function (row, y) {
      row.shares.forEach(function (share, x) { cells.push([x, y, share]); });
    });
    return rongCharts.chart(node, {
      title: rongCharts.title(words.rolls + (data.roll_month ? " " + data.roll_month : "")),
      tooltip: { renderMode: rongCharts.TOOLTIP, valueFormatter: percent },
      grid: { left: 8, right: 12, top: 36, bottom: 56, containLabel: true },
      xAxis: { type: "category", data: data.roll_targets, axisLabel: { interval: 0, rotate: 30 } },
      yAxis: { type: "category", data: data.rolls.map(function (r) { return r.source; }), inverse: true },
      visualMap: { min: 0, max: 100, show: false, inRange: { color: ["#f3f6fb", "#c7000b"] } },
      series: [{ type: "heatmap", data: cells, label: { show: true, formatter: function (p) { return percent(p.value[2]); } } }]
    });
  }

  function vintages(node, data) {
    var months = [];
    for (var k = 0; k < data.vintage_length; k++) months.push(String(k));
    return rongCharts.chart(node, {
      title: rongCharts.title(words.vintages),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP, valueFormatter: percent },
      legend: { bottom: 0, type: "scroll" },
      grid: rongCharts.GRID,
      xAxis: { type: "category", name: words.mob, nameLocation: "middle", nameGap: 22, data: months },
      yAxis: { type: "value", axisLabel: { formatter: "{value}%" } },
      series: data.vintages.map(function (v) { return { name: v.month, type: "line", data: v.shares }; })
    });
  }

  rongCharts.draw("portfolio-data", function (data) {
    return [
      applications(document.getElementById("chart-applications"), data),
      categories(document.getElementById("chart-categories"), data),
      rolls(document.getElementById("chart-rolls"), data),
      vintages(document.getElementById("chart-vintages"), data)
    ];
  });
})();
