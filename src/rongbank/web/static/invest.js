/* 工银e投资 pages (invest.html, invest_ticket.html): the quote board kept live by the
 * page's Server-Sent Events, the candlestick and P&L charts (Apache ECharts, vendored
 * under /static, from the JSON the page carries: the CSP runs no inline script), and
 * the quote's countdown, which disables the trade button when the quote expires (the
 * server refuses it then anyway). */
(function () {
  "use strict";
  var script = document.currentScript || document.querySelector("script[src='/static/invest.js']");
  var TOOLTIP = "richText";

  function countdown() {
    var left = document.getElementById("invest-countdown");
    if (!left) return;
    var until = Date.now() + 1000 * Number(left.getAttribute("data-seconds"));
    var form = document.getElementById("invest-trade-form");
    var timer = setInterval(function () {
      var seconds = Math.max(0, Math.ceil((until - Date.now()) / 1000));
      left.textContent = String(seconds);
      if (seconds === 0) {
        clearInterval(timer);
        if (form) form.querySelectorAll("button[type=submit]").forEach(function (b) { b.disabled = true; });
        var hint = document.getElementById("invest-expired-hint");
        if (hint) hint.hidden = false;
      }
    }, 250);
  }

  function live() {
    var board = document.getElementById("invest-board");
    if (!board || !window.EventSource) return;
    var source = new EventSource(board.getAttribute("data-stream"));
    source.addEventListener("board", function (event) {
      JSON.parse(event.data).forEach(function (line) {
        var row = board.querySelector("tr[data-product='" + line.product + "']");
        if (!row) return;
        row.querySelector("[data-bid]").textContent = line.bid || "—";
        row.querySelector("[data-ask]").textContent = line.ask || "—";
      });
    });
    document.body.addEventListener("htmx:beforeSwap", function leave() {
      source.close();
      document.body.removeEventListener("htmx:beforeSwap", leave);
    });
  }

  function draw() {
    var source = document.getElementById("invest-data");
    var candles = document.getElementById("invest-candles");
    if (!source || !candles) return;
    var data = JSON.parse(source.textContent);
    var chart = echarts.init(candles);
    chart.setOption({
      tooltip: { trigger: "axis", renderMode: TOOLTIP },
      grid: { left: 48, right: 12, top: 16, bottom: 28 },
      xAxis: { type: "category", data: data.candles.map(function (c) { return c[0]; }) },
      yAxis: { scale: true },
      series: [{ type: "candlestick", name: data.name,
        data: data.candles.map(function (c) { return c.slice(1); }),
        itemStyle: { color: "#c7000b", color0: "#10b981", borderColor: "#c7000b", borderColor0: "#10b981" } }]
    });
    var charts = [chart];
    var pnl = document.getElementById("invest-pnl");
    if (pnl && data.pnl.length) {
      var bars = echarts.init(pnl);
      bars.setOption({
        tooltip: { trigger: "axis", renderMode: TOOLTIP },
        grid: { left: 48, right: 12, top: 16, bottom: 28 },
        xAxis: { type: "category", data: data.pnl.map(function (p) { return p.name; }) },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: data.pnl.map(function (p) {
          return { value: p.value, itemStyle: { color: p.value >= 0 ? "#c7000b" : "#10b981" } };
        }) }]
      });
      charts.push(bars);
    }
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    window.addEventListener("resize", resize);
    document.body.addEventListener("htmx:beforeSwap", function leave() {
      window.removeEventListener("resize", resize);
      charts.forEach(function (c) { c.dispose(); });
      document.body.removeEventListener("htmx:beforeSwap", leave);
    });
  }

  countdown();
  live();
  var echartsUrl = script && script.getAttribute("data-echarts");
  if (!echartsUrl) return;
  if (window.echarts) {
    draw();
  } else {
    var loader = document.createElement("script");
    loader.src = echartsUrl;
    loader.onload = draw;
    document.head.appendChild(loader);
  }
})();
