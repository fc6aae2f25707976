/* The seller's 融e购 sales chart (merchant_mall_orders.html), drawn with Apache
 * ECharts (by way of charts.js) from the figures the page carries in
 * <script type="application/json" id="sales-data"> (yuan per day). Without JavaScript
 * the page's table shows the same figures. */
(function () {
  "use strict";
  var words = rongCharts.words("mall_sales.js");

  rongCharts.draw("sales-data", function (data) {
    var node = document.getElementById("chart-sales");
    if (!node) return [];
    return [rongCharts.chart(node, {
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      legend: { bottom: 0 },
      grid: { left: 8, right: 12, top: 16, bottom: 28, containLabel: true },
      xAxis: { type: "category", data: data.days },
      yAxis: { type: "value" },
      series: [
        { name: words.sold, type: "bar", data: data.amount },
        { name: words.released, type: "line", data: data.released }
      ]
    })];
  });
})();
