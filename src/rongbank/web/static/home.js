/* The dashboard's spending charts (home.html), drawn with Apache ECharts from the
 * figures the page carries in <script type="application/json" id="spending-data">
 * (amounts in fen). ECharts, vendored under /static, is loaded once, on the first
 * dashboard: a boosted navigation back here finds it loaded. Without JavaScript the
 * page's list shows the same figures. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-echarts]");
  var lang = script.getAttribute("data-lang") || "zh-CN";
  var PALETTE = ["#c7000b", "#f59e0b", "#2563eb", "#10b981", "#8b5cf6", "#ec4899",
    "#14b8a6", "#6b7280", "#84cc16", "#f97316", "#0ea5e9", "#a855f7", "#64748b"];
  // Tooltips drawn on the canvas: ECharts' HTML tooltips carry style="" attributes,
  // which the Content-Security-Policy (no 'unsafe-inline') refuses.
  var TOOLTIP = "richText";
  var yuan = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

  function money(value) {
    return "¥ " + yuan.format(value);
  }

  function draw() {
    var source = document.getElementById("spending-data");
    var byCategory = document.getElementById("chart-category");
    var byMonth = document.getElementById("chart-month");
    if (!source || !byCategory || !byMonth) return;
    var data = JSON.parse(source.textContent);
    var colours = {};
    data.categories.forEach(function (c, i) { colours[c.key] = PALETTE[i % PALETTE.length]; });

    var pie = echarts.init(byCategory);
    pie.setOption({
      title: { text: data.words.by_category, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "item", renderMode: TOOLTIP, valueFormatter: money },
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

    var bars = echarts.init(byMonth);
    bars.setOption({
      title: { text: data.words.by_month, left: "center", textStyle: { fontSize: 14 } },
      tooltip: { trigger: "axis", renderMode: TOOLTIP, axisPointer: { type: "shadow" }, valueFormatter: money },
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

    var resize = function () { pie.resize(); bars.resize(); };
    window.addEventListener("resize", resize);
    // A boosted navigation away swaps this page out: stop listening, free the charts.
    document.body.addEventListener("htmx:beforeSwap", function leave() {
      window.removeEventListener("resize", resize);
      pie.dispose();
      bars.dispose();
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
