"""The sentence an analyst reads for each report and finding, in Chinese and English,
naming the ledger transfers (entries) behind it."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from rongbank.clock import BUSINESS_TIME_ZONE

SHOWN = 12
"""Transfers named in a sentence; the rest are counted (all are stored)."""

RULE_NAMES = {
    "cash": ("现金收付", "cash paid in or out"),
    "non_natural_transfer": ("非自然人客户款项划转", "transfers of a non-natural person"),
    "natural_domestic_transfer": ("自然人客户境内款项划转", "domestic transfers of a person"),
    "natural_cross_border_transfer": (
        "自然人客户跨境款项划转",
        "cross-border transfers of a person",
    ),
}


def money(minor: int, currency_class: str = "CNY") -> tuple[str, str]:
    """An amount in minor units as (zh, en) text: yuan, or US dollars for FX."""
    value = f"{Decimal(minor).scaleb(-2):,.2f}"
    if currency_class == "CNY":
        return f"{value} 元", f"{value} yuan"
    return f"{value} 美元（等值）", f"USD {value} equivalent"


def transfers(entry_ids: Sequence[int]) -> tuple[str, str]:
    shown = ", ".join(f"#{e}" for e in entry_ids[:SHOWN])
    more = len(entry_ids) - SHOWN
    if more > 0:
        return f"{shown} 等 {len(entry_ids)} 笔", f"{shown} and {more} more"
    return shown, shown


def _direction(direction: str) -> tuple[str, str]:
    return ("转入", "in") if direction == "in" else ("转出", "out")


def _beijing(at: str | datetime | None) -> str:
    if at is None:
        return ""
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return moment.astimezone(BUSINESS_TIME_ZONE).strftime("%Y-%m-%d %H:%M")


def report_sentence(
    *,
    day: date,
    rule: str,
    article: str,
    direction: str,
    currency_class: str,
    total: int,
    threshold: int,
    movements: int,
    entry_ids: Sequence[int],
) -> tuple[str, str]:
    zh_rule, en_rule = RULE_NAMES[rule]
    # 第五条 counts 资金收入 and 支出 apart: its words, not 转入/转出 after 划转.
    zh_dir, en_dir = ("收入", "in") if direction == "in" else ("支出", "out")
    zh_total, en_total = money(total, currency_class)
    zh_limit, en_limit = money(threshold, currency_class)
    zh_list, en_list = transfers(entry_ids)
    return (
        f"{day.isoformat()} 当日{zh_rule}{zh_dir}共 {movements} 笔，累计 {zh_total}，"
        f"达到大额交易报告标准 {zh_limit}（{article}，按收入或支出单边累计）：{zh_list}。",
        f"On {day.isoformat()} the customer's {en_rule} {en_dir} came to {en_total} in "
        f"{movements} movement(s), at or above the large-value threshold of {en_limit} "
        f"({article}, money in and out summed separately): transfers {en_list}.",
    )


def finding_sentence(
    pattern: str, *, amount: int, entry_ids: Sequence[int], details: dict[str, Any]
) -> tuple[str, str]:
    zh_list, en_list = transfers(entry_ids)
    zh_amount, en_amount = money(amount)
    d = details
    if pattern in ("structuring", "round_amounts"):
        zh_dir, en_dir = _direction(d["direction"])
        span = (d["first_day"], d["last_day"])
        if pattern == "structuring":
            zh_limit, en_limit = money(int(d["threshold"]))
            zh_name, en_name = RULE_NAMES[d["rule"]]
            return (
                f"{span[0]} 至 {span[1]} 的 {d['window_days']} 天内有 {d['count']} 笔{zh_dir}"
                f"金额略低于大额报告标准 {zh_limit}（{zh_name}），合计 {zh_amount}，"
                f"疑似拆分交易以规避报告：{zh_list}。",
                f"{d['count']} movements {en_dir}, each just under the large-value threshold "
                f"of {en_limit} ({en_name}), within {d['window_days']} days ({span[0]} to "
                f"{span[1]}), {en_amount} in all: possibly split to stay under the report. "
                f"Transfers {en_list}.",
            )
        zh_unit, en_unit = money(int(d["unit"]))
        return (
            f"{span[0]} 至 {span[1]} 的 {d['window_days']} 天内有 {d['count']} 笔{zh_dir}"
            f"整数金额（{zh_unit} 的整数倍），合计 {zh_amount}：{zh_list}。",
            f"{d['count']} round amounts {en_dir} (multiples of {en_unit}) within "
            f"{d['window_days']} days ({span[0]} to {span[1]}), {en_amount} in all. "
            f"Transfers {en_list}.",
        )
    if pattern == "rapid_in_out":
        zh_in, en_in = money(int(d["in"]))
        zh_out, en_out = money(int(d["out"]))
        share = round(100 * int(d["out"]) / int(d["in"]))
        return (
            f"{_beijing(d['in_at'])} 转入 {zh_in}（#{entry_ids[0]}）后 {d['hours']} 小时内"
            f"转出 {zh_out}（{share}%，{d['outflows']} 笔），资金快进快出：{zh_list}。",
            f"{en_in} came in at {_beijing(d['in_at'])} (#{entry_ids[0]}) and {en_out} "
            f"({share}%) left within {d['hours']} hours in {d['outflows']} movement(s): "
            f"money passing through. Transfers {en_list}.",
        )
    if pattern in ("fan_in", "fan_out"):
        zh_dir, en_dir = ("来自", "from") if d["direction"] == "in" else ("转给", "to")
        zh_what = "分散转入、集中收款" if pattern == "fan_in" else "集中转出、分散付款"
        en_what = "collected from many" if pattern == "fan_in" else "spread out to many"
        return (
            f"{d['first_day']} 至 {d['last_day']} 的 {d['window_days']} 天内 {d['count']} 笔"
            f"资金{zh_dir} {d['counterparties']} 个不同账户，合计 {zh_amount}，"
            f"{zh_what}：{zh_list}。",
            f"{d['count']} movements {en_dir} {d['counterparties']} different accounts "
            f"within {d['window_days']} days ({d['first_day']} to {d['last_day']}), "
            f"{en_amount} in all: money {en_what}. Transfers {en_list}.",
        )
    if pattern == "dormant_woken":
        zh_dir, en_dir = _direction(d["direction"])
        if d["last_movement"] is None:
            zh_since = f"自 {_beijing(d['opened_at'])} 开户后从未有交易"
            en_since = f"had not moved since it was opened on {_beijing(d['opened_at'])}"
        else:
            zh_since = f"上一笔交易在 {_beijing(d['last_movement'])}"
            en_since = f"had last moved on {_beijing(d['last_movement'])}"
        return (
            f"账户超过 {d['months']} 个月无交易（{zh_since}），突然{zh_dir} {zh_amount}："
            f"{zh_list}。",
            f"An account that {en_since}, over {d['months']} months without movement, "
            f"suddenly moved {en_amount} {en_dir}. Transfer {en_list}.",
        )
    raise ValueError(f"unknown pattern {pattern!r}")
