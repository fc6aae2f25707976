/* The dashboard's spending charts (home.html), drawn with Apache ECharts (by way of
 * charts.js) from the figures the page carries in <script type="application/json"
 * id="spending-data"> (amounts in fen). Without JavaScript the page's list shows the
 * same figures. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[src='/static/home.js']");
  var lang = script.getAttribute("data-lang") || "zh-CN";
  var PALETTE = ["#c7000b", "#f59e0b", "#2563eb", "#10b981", "#8b5cf6", "#ec4899",
    "#14b8a6", "#6b7280", "#84cc16", "#f97316", "#0ea5e9", "#a855f7", "#64748b"];
  var yuan = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function money(value) {
    return "¥ " + yuan.format(value);
  }

  rongCharts.draw("spending-data", function (data) {
    var byCategory = document.getElementById("chart-category");
    var byMonth = document.getElementById("chart-month");
    if (!byCategory || !byMonth) return [];
    var colours = {};
    data.categories.forEach(function (c, i) { colours[c.key] = PALETTE[i % PALETTE.length]; });

    var pie = rongCharts.chart(byCategory, {
      title: rongCharts.title(data.words.by_category),
      tooltip: { trigger: "item", renderMode: rongCharts.TOOLTIP, valueFormatter: money },
      series: [{
        type: "pie",
        radius: ["40%", "68%"],
        center: ["50%", "56%"],
        avoidLabelOverlap: true,
        label: { formatter: "{b}\n{d}%", fontSize: 11 },
        data: data.categories.map(function (c) {
          return { name: c.label, value: c.total / 100, itemStyle: { color: colours[c.key] } };
        })
      }]
    });

    var bars = rongCharts.chart(byMonth, {
      title: rongCharts.title(data.words.by_month),
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP, axisPointer: { type: "shadow" }, valueFormatter: money },
      grid: { left: 8, right: 8, top: 36, bottom: 8, containLabel: true },
      xAxis: { type: "category", data: data.months.map(function (m) { return m.slice(2); }) },
      yAxis: { type: "value", axisLabel: { formatter: function (v) { return yuan.format(v).replace(/\.00$/, ""); } } },
      series: data.categories.map(function (c) {
        return {
          name: c.label,
          type: "bar",
          stack: "spent",
          itemStyle: { color: colours[c.key] },
          data: data.series[c.key].map(function (v) { return v / 100; })
        };
      })
    });
    return [pie, bars];
  });
})();
