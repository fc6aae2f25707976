/* 工银e投资 pages (invest.html, invest_ticket.html): the quote board kept live by the
 * page's Server-Sent Events, the candlestick and P&L charts (Apache ECharts by way of
 * charts.js, which only invest.html loads, from the JSON the page carries), and the
 * quote's countdown, which disables the trade button when the quote expires (the
 * server refuses it then anyway). */
(function () {
  "use strict";

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

  function draw(data) {
    var candles = document.getElementById("invest-candles");
    if (!candles) return [];
    var charts = [rongCharts.chart(candles, {
      tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
      grid: { left: 48, right: 12, top: 16, bottom: 28 },
      xAxis: { type: "category", data: data.candles.map(function (c) { return c[0]; }) },
      yAxis: { scale: true },
      series: [{ type: "candlestick", name: data.name,
        data: data.candles.map(function (c) { return c.slice(1); }),
        itemStyle: { color: "#c7000b", color0: "#10b981", borderColor: "#c7000b", borderColor0: "#10b981" } }]
    })];
    var pnl = document.getElementById("invest-pnl");
    if (pnl && data.pnl.length) {
      charts.push(rongCharts.chart(pnl, {
        tooltip: { trigger: "axis", renderMode: rongCharts.TOOLTIP },
        grid: { left: 48, right: 12, top: 16, bottom: 28 },
        xAxis: { type: "category", data: data.pnl.map(function (p) { return p.name; }) },
        yAxis: { type: "value" },
        series: [{ type: "bar", data: data.pnl.map(function (p) {
          return { value: p.value, itemStyle: { color: p.value >= 0 ? "#c7000b" : "#10b981" } };
        }) }]
      }));
    }
    return charts;
  }

  countdown();
  live();
  if (window.rongCharts) rongCharts.draw("invest-data", draw);
})();
