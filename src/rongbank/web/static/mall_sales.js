/* The seller's 融e购 sales chart (merchant_mall_orders.html), drawn with Apache
 * ECharts from the figures the page carries in <script type="application/json"
 * id="sales-data"> (yuan per day). ECharts, vendored under /static, is loaded once.
 * Without JavaScript the page's table shows the same figures. */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[data-words]");
  var words = JSON.parse(script.getAttribute("data-words"));

  function draw() {
    var source = document.getElementById("sales-data");
    var node = document.getElementById("chart-sales");
    if (!source || !node) return;
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(node);
    chart.setOption({
      tooltip: { trigger: "axis", renderMode: "richText" },  // HTML tooltips break the CSP
      legend: { bottom: 0 },
      grid: { left: 8, right: 12, top: 16, bottom: 28, containLabel: true },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value" },
      series: [
        { name: words.sold, type: "bar", data: data.amount },
        { name: words.released, type: "line", data: data.released }
      ]
    });
    var resize = function () { chart.resize(); };
    window.addEventListener("resize", resize);
    document.body.addEventListener("htmx:beforeSwap", function leave() {
      window.removeEventListener("resize", resize);
      chart.dispose();
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
