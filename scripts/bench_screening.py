"""Screening speed against a watch list of 100,000 names.

    python scripts/bench_screening.py [--names 100000] [--screen 1000]

Makes up a list of Chinese names (100 common surnames, one or two given characters
from 60 common ones: many namesakes, as on real lists), half of them listed in
hanzi and half in pinyin, builds the in-process index that screening uses
(``rongbank.risk.watchlist.names.Index``: every name's pinyin keys, searched with
rapidfuzz's ``process.extract``), and screens names written both ways. Reports the
CPU time (this thread's, so other load on the machine does not count) per name.
"""

from __future__ import annotations

import argparse
import random
import time

from pypinyin import lazy_pinyin

from rongbank.risk.watchlist.lists import DEFAULT_THRESHOLD
from rongbank.risk.watchlist.names import Index, Listed

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超兰霞平刚华建国志红玉梅"
    "文辉鹏飞斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪晨子涵梓轩雨萱博"
)


def made_up(rng: random.Random) -> str:
    return rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice((1, 2))))


def pinyin_of(name: str) -> str:
    surname, *given = lazy_pinyin(name)
    return f"{surname.title()} {''.join(given).title()}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--names", type=int, default=100_000)
    parser.add_argument("--screen", type=int, default=1000)
    parser.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    args = parser.parse_args()
    rng = random.Random(19)  # noqa: S311 (made-up names, the same every run)
    listed = [made_up(rng) for _ in range(args.names)]
    listed = [n if i % 2 else pinyin_of(n) for i, n in enumerate(listed)]
    start = time.thread_time()
    index = Index((Listed(i, "bench", n, n), n) for i, n in enumerate(listed))
    built = time.thread_time() - start
    screened = [made_up(rng) for _ in range(args.screen)]
    screened = [n if i % 2 else pinyin_of(n) for i, n in enumerate(screened)]
    hits = 0
    start = time.thread_time()
    for name in screened:
        hits += len(index.search(name, threshold=args.threshold))
    spent = time.thread_time() - start
    print(
        f"{args.names} listed names ({len(index)} distinct keys), index built in "
        f"{built:.1f} s CPU; {args.screen} names screened at threshold {args.threshold:g}: "
        f"{spent / args.screen * 1e6:.0f} µs CPU per name, {hits / args.screen:.1f} hits "
        "per name (at most 10 kept)"
    )


if __name__ == "__main__":
    main()
