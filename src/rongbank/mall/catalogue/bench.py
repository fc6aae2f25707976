"""The search half of ``rongbank bench mall``: catalogue search over 100,000
products, beside pgbench's TPC-B on the same server in the same run.

One run, one PostgreSQL server (:func:`rongbank.ledger.bench.bench_server`):

1. **Set-up** (timed, not part of the goal): the category tree and ``shops`` open
   shops through the services, then ``products`` published products in one
   ``INSERT ... SELECT generate_series``: titles "<brand> <adjective> <goods> X<n>"
   from :mod:`rongbank.mall.catalogue.samples` (about 200 brand-and-goods pairs, 16
   adjectives, 300 model numbers), their search tokens put together from each
   word's (words are separated by spaces, so a title's tokens are its words'
   tokens: checked on a sample), one to three SKUs each at prices around the goods'
   typical one. The SKUs' price trigger is set aside for the load and the price
   ranges written in one statement; then ``ANALYZE``.
2. **pgbench** TPC-B reference on the same server.
3. **Searches**: ``rounds`` of a fixed mix of queries (common and rare words, a
   brand, an adjective matching a sixteenth of the catalogue, a word of every
   product's description (and its second page), with a department and
   its subcategories, with a price range sorted by price, browsing a category by
   newest, a seller's shop, and the second page of a search by its cursor), each as
   the API runs it (``run_search``'s service call in its own transaction), from
   ``clients`` threads. Latency is per search, wall clock, p50/p99 per kind and
   over all; CPU per search is this process's and the server's (psutil) divided by
   the searches, which says what a quiet machine would need.

Goal: p99 <= 50 ms over all searches.
"""

from __future__ import annotations

import random
import threading
import time
from collections import defaultdict
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import psutil
import psycopg
from sqlalchemy import text

from rongbank.accounts.identity import resident_id_check_character
from rongbank.db import autocommit
from rongbank.ledger.bench import BenchServer, Machine, PathResult, bench_server, percentile
from rongbank.mall.catalogue import rules, samples
from rongbank.mall.catalogue.search import SearchQuery, search
from rongbank.platform import Platform
from rongbank.settings import Settings, throwaway_secrets

P99_GOAL_MS = 50.0
DESCRIPTION = "品质保证 全国包邮 七天无理由退换 正品行货 官方售后"
"""The rest of each product's description, after "<brand> 出品 <goods>": words apart,
so that the description's tokens are its words' (as the title's)."""


@dataclass(frozen=True, kw_only=True)
class KindResult:
    kind: str
    searches: int
    p50_ms: float
    p99_ms: float
    mean_hits: float


@dataclass(frozen=True, kw_only=True)
class MallSearchReport:
    machine: Machine
    products: int
    skus: int
    shops: int
    setup_s: float
    pgbench: PathResult
    clients: int
    searches: int
    elapsed_s: float
    p50_ms: float
    p99_ms: float
    python_cpu_ms: float
    """CPU per search in this process (the service call, SQLAlchemy, psycopg)."""
    server_cpu_ms: float
    """CPU per search in the PostgreSQL server (0 when it is not the embedded one)."""
    kinds: list[KindResult]
    tokens_match: bool
    """A sample of the loaded products' tokens equals what the catalogue service
    would have written for their titles."""
    load_average: tuple[float, float, float]

    @property
    def goal_met(self) -> bool:
        return self.p99_ms <= P99_GOAL_MS

    @property
    def sound(self) -> bool:
        return self.tokens_match

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data |= {"goal_p99_ms": P99_GOAL_MS, "goal_met": self.goal_met, "sound": self.sound}
        data["ratio_to_pgbench_latency_p99"] = (
            self.p99_ms / self.pgbench.p99_ms if self.pgbench.p99_ms else None
        )
        return data


def run(
    *,
    products: int = 100_000,
    shops: int = 20,
    rounds: int = 30,
    clients: int = 1,
    seconds: float = 10.0,
    data_dir: Path | None = None,
    database_url: str | None = None,
) -> MallSearchReport:
    if products < 100 or shops < 1 or rounds < 1 or clients < 1:
        raise ValueError("products >= 100, shops, rounds and clients >= 1")
    with bench_server(data_dir=data_dir, database_url=database_url) as db:
        return run_on(
            db, products=products, shops=shops, rounds=rounds, clients=clients, seconds=seconds
        )


def platform_for(db: BenchServer) -> Platform:
    """A platform on the benchmark's database, with keys of this run only."""
    values: dict[str, Any] = {
        "database_url": db.url,
        "data_dir": str(db.work_dir),
        **throwaway_secrets(),
    }
    return Platform.connect(db.url, Settings(**values), group_commit=False)


def run_on(
    db: BenchServer, *, products: int, shops: int, rounds: int, clients: int, seconds: float
) -> MallSearchReport:
    platform = platform_for(db)
    try:
        started = time.monotonic()
        shop_ids, categories = set_up_shops(platform, shops)
        skus = load_products(platform, products, shop_ids, categories)
        setup_s = time.monotonic() - started
        tokens_match = check_tokens(platform)
        reference = db.reference(scale=max(1, clients), clients=clients, seconds=seconds)
        queries = query_mix(platform, categories, shop_ids)
        timings, elapsed, python_s, server_s = measure(
            platform, queries, rounds=rounds, clients=clients, postmaster=postmaster_of(db)
        )
    finally:
        platform.close()
    everything = sorted(ms for kind in timings.values() for ms, _ in kind)
    return MallSearchReport(
        machine=db.machine,
        products=products,
        skus=skus,
        shops=shops,
        setup_s=round(setup_s, 2),
        pgbench=reference,
        clients=clients,
        searches=len(everything),
        elapsed_s=round(elapsed, 3),
        p50_ms=round(percentile(everything, 0.5), 2),
        p99_ms=round(percentile(everything, 0.99), 2),
        python_cpu_ms=round(python_s * 1000 / max(1, len(everything)), 3),
        server_cpu_ms=round(server_s * 1000 / max(1, len(everything)), 3),
        kinds=[
            KindResult(
                kind=kind,
                searches=len(found),
                p50_ms=round(percentile(sorted(ms for ms, _ in found), 0.5), 2),
                p99_ms=round(percentile(sorted(ms for ms, _ in found), 0.99), 2),
                mean_hits=round(sum(h for _, h in found) / len(found), 1),
            )
            for kind, found in sorted(timings.items())
        ],
        tokens_match=tokens_match,
        load_average=psutil.getloadavg(),
    )


def set_up_shops(platform: Platform, shops: int) -> tuple[list[int], dict[str, int]]:
    """The category tree and ``shops`` open shops; their ids and the categories'."""
    with platform.transaction() as session:
        categories = samples.plant_categories(platform.mall, session)
        staff = tuple(
            platform.accounts.create_staff(
                session, username=f"bench-ops{i}", name="运营", role="operations"
            )
            for i in (1, 2)
        )
        shop_ids = []
        for n in range(shops):
            person, account = platform.accounts.register_person(
                session,
                name=f"店主{n}",
                mobile=f"1350000{n:04d}",
                resident_id=_resident_id(n),
            )
            owner = samples.open_shop(
                session,
                accounts=platform.accounts,
                payments=platform.payments,
                catalogue=platform.mall,
                owner=(person.id, account.id),
                staff=(staff[0], staff[1]),
                name=f"{samples.DEPARTMENTS[n % len(samples.DEPARTMENTS)].name_zh}优选{n}号店",
            )
            shop_ids.append(platform.mall.shop_of(session, owner.merchant_id).id)
    return shop_ids, categories


def _resident_id(n: int) -> str:
    body = f"110105199001{(n % 28) + 1:02d}{n % 1000:03d}"
    return body + resident_id_check_character(body)


def load_products(
    platform: Platform, products: int, shop_ids: list[int], categories: dict[str, int]
) -> int:
    """``products`` published products with their SKUs, in a few statements; the
    number of SKUs."""
    pairs = [(brand, g) for g in samples.goods() for brand in g.department.brands]
    random.Random(7).shuffle(pairs)  # noqa: S311 (a fixed mix, not a secret)
    params = {
        "n": products,
        "shops": shop_ids,
        "brand": [b for b, _ in pairs],
        "goods": [g.name for _, g in pairs],
        "pair_vec": [rules.search_vector(f"{b} {g.name}", "") for b, g in pairs],
        "cat": [categories[g.category] for _, g in pairs],
        "base": [g.price for _, g in pairs],
        "adj": list(samples.ADJECTIVES),
        "adj_vec": [rules.search_vector(a, "") for a in samples.ADJECTIVES],
        "colours": list(samples.VARIANTS[0][1]),
        "desc": DESCRIPTION,
        "desc_vec": rules.search_vector("", "出品 " + DESCRIPTION),
        "at": platform.clock.now(),
    }
    with platform.transaction() as session:
        session.execute(text("ALTER TABLE mall_sku DISABLE TRIGGER mall_sku_prices"))
        session.execute(
            text(
                "WITH v AS (SELECT CAST(:shops AS bigint[]) shops, CAST(:brand AS text[]) brand, "
                "CAST(:goods AS text[]) goods, CAST(:pair_vec AS text[]) pv, "
                "CAST(:cat AS bigint[]) cat, CAST(:adj AS text[]) adj, "
                "CAST(:adj_vec AS text[]) av), "
                "g AS (SELECT g, 1 + g % cardinality(v.brand) AS p, "
                "1 + (g / cardinality(v.brand)) % cardinality(v.adj) AS a, g % 300 AS m "
                "FROM v, generate_series(1, :n) g) "
                "INSERT INTO mall_product (shop_id, category_id, title, description, "
                "attributes, status, created_at, updated_at, search) "
                "SELECT v.shops[1 + g.g % cardinality(v.shops)], v.cat[g.p], "
                "v.brand[g.p] || ' ' || v.adj[g.a] || ' ' || v.goods[g.p] || ' X' || g.m, "
                "v.brand[g.p] || ' 出品 ' || v.goods[g.p] || ' ' || :desc, "
                "jsonb_build_object('品牌', v.brand[g.p]), 'published', "
                "CAST(:at AS timestamptz) - g.g * interval '1 second', "
                "CAST(:at AS timestamptz) - g.g * interval '1 second', "
                "CAST(v.pv[g.p] AS tsvector) || CAST(v.av[g.a] AS tsvector) || "
                "CAST('x' || g.m || '\\:1A' AS tsvector) || CAST(:desc_vec AS tsvector) FROM v, g"
            ),
            params,
        )
        # One to three SKUs around the goods' typical price (the title's third word).
        session.execute(
            text(
                "INSERT INTO mall_sku (product_id, code, attributes, price, stock) "
                "SELECT p.id, 'S' || i, jsonb_build_object('颜色', "
                "(CAST(:colours AS text[]))[i]), "
                "greatest(100, b.base * (80 + (p.id * 13) % 41) / 100 + (i - 1) * b.base / 10), "
                "100 FROM mall_product p JOIN (SELECT DISTINCT goods, base FROM "
                "unnest(CAST(:goods AS text[]), CAST(:base AS bigint[])) AS u(goods, base)) b "
                "ON b.goods = split_part(p.title, ' ', 3), generate_series(1, 1 + p.id % 3) i"
            ),
            params,
        )
        session.execute(
            text(
                "UPDATE mall_product p SET min_price = r.lo, max_price = r.hi FROM "
                "(SELECT product_id, min(price) lo, max(price) hi FROM mall_sku "
                "WHERE active GROUP BY product_id) r WHERE p.id = r.product_id"
            )
        )
        session.execute(text("ALTER TABLE mall_sku ENABLE TRIGGER mall_sku_prices"))
        skus = int(session.execute(text("SELECT count(*) FROM mall_sku")).scalar_one())
    with autocommit(platform.session_factory) as session:
        session.execute(text("VACUUM ANALYZE mall_product, mall_sku"))
    return skus


def check_tokens(platform: Platform) -> bool:
    """Whether the loaded tokens are what the service writes for those titles."""
    with platform.transaction() as session:
        rows = session.execute(
            text(
                "SELECT title || ' ' || description, tsvector_to_array(search) "
                "FROM mall_product WHERE id % 97 = 0 LIMIT 500"
            )
        ).all()
    return bool(rows) and all(set(r[1]) == set(rules.tokens(r[0])) for r in rows)


@dataclass(frozen=True, slots=True)
class Query:
    kind: str
    query: SearchQuery
    second_page: bool = False


def query_mix(platform: Platform, categories: dict[str, int], shop_ids: list[int]) -> list[Query]:
    with platform.transaction() as session:
        digital = platform.mall.subcategories(session, categories["digital"])
        food = platform.mall.subcategories(session, categories["food"])
    return [
        Query("word", SearchQuery("智能手机")),
        Query("word", SearchQuery("龙井茶")),
        Query("rare word", SearchQuery("破壁机 x42")),
        Query("brand", SearchQuery("华为")),
        Query("adjective (1/16 of all)", SearchQuery("新款")),
        # In every product's description: relevance ranks only the newest matches
        # (``search.RANK_CAP``), not the whole catalogue.
        Query("word of every product", SearchQuery("正品")),
        Query("word of every product, page 2", SearchQuery("正品"), second_page=True),
        Query("word + department", SearchQuery("耳机", category_ids=digital)),
        Query(
            "word + price, by price",
            SearchQuery("大米", min_price=5000, max_price=8000, sort="price_asc"),
        ),
        Query("department, newest", SearchQuery(category_ids=food, sort="newest")),
        Query(
            "price range, by price",
            SearchQuery(min_price=100000, max_price=200000, sort="price_asc"),
        ),
        Query("seller, newest", SearchQuery(shop_id=shop_ids[0], sort="newest")),
        Query("word, page 2", SearchQuery("手机"), second_page=True),
        Query("all, by price desc", SearchQuery(sort="price_desc")),
    ]


def _search_once(platform: Platform, q: Query) -> tuple[float, int]:
    started = time.perf_counter()
    with platform.transaction() as session:
        page = search(session, q.query)
        if q.second_page and page.next_cursor:
            page = search(session, _with_cursor(q.query, page.next_cursor))
    return (time.perf_counter() - started) * 1000, len(page.hits)


def _with_cursor(query: SearchQuery, cursor: str) -> SearchQuery:
    return replace(query, cursor=cursor)


def measure(
    platform: Platform,
    queries: list[Query],
    *,
    rounds: int,
    clients: int,
    postmaster: int | None,
) -> tuple[dict[str, list[tuple[float, int]]], float, float, float]:
    """Each client runs every query ``rounds`` times in its own shuffled order (one
    warm-up round first, not counted)."""
    for q in queries:
        _search_once(platform, q)
    timings: dict[str, list[tuple[float, int]]] = defaultdict(list)
    lock = threading.Lock()

    def client(index: int) -> None:
        order = [q for _ in range(rounds) for q in queries]
        random.Random(index).shuffle(order)  # noqa: S311 (an order, not a secret)
        for q in order:
            found = _search_once(platform, q)
            with lock:
                timings[q.kind].append(found)

    # The server's processes (embedded: on this machine) and this one's, apart.
    python_before = time.process_time()
    server_before = _tree_cpu(postmaster)
    started = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    server_s = _since(server_before, _tree_cpu(postmaster))
    return timings, elapsed, time.process_time() - python_before, server_s


def postmaster_of(db: BenchServer) -> int | None:
    """The embedded server's process id (None for another server: its processes need
    not be on this machine)."""
    if db.machine.server != "embedded":
        return None
    with psycopg.connect(db.admin_url) as conn:
        row = conn.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(psutil.Process(int(row[0])).ppid())


def _tree_cpu(pid: int | None) -> dict[int, float]:
    """CPU seconds of a process and each of its children, by process id."""
    if pid is None:
        return {}
    found: dict[int, float] = {}
    try:
        root = psutil.Process(pid)
        for p in [root, *root.children(recursive=True)]:
            try:
                times = p.cpu_times()
            except psutil.Error:
                continue
            found[p.pid] = times.user + times.system
    except psutil.Error:
        pass
    return found


def _since(before: dict[int, float], after: dict[int, float]) -> float:
    """CPU spent between the two readings (a process started since counts whole)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in after.items())


def render(report: MallSearchReport) -> str:
    m = report.machine
    lines = [
        f"Mall search: {report.products:,} products ({report.skus:,} SKUs) in "
        f"{report.shops} shops; set-up {report.setup_s:.1f} s",
        f"machine: {m.cpu_count} CPUs ({m.cpus_usable} usable), PostgreSQL {m.postgres_version}"
        f" ({m.server}); load average " + " ".join(f"{x:.2f}" for x in report.load_average),
        f"pgbench TPC-B reference: {report.pgbench.rate:,.0f} tps, p50 "
        f"{report.pgbench.p50_ms:.1f} ms, p99 {report.pgbench.p99_ms:.1f} ms "
        f"({report.pgbench.workers} clients)",
        "",
        f"{'search':<28}{'n':>6}{'p50 ms':>9}{'p99 ms':>9}{'hits':>7}",
    ]
    for k in report.kinds:
        lines.append(
            f"{k.kind:<28}{k.searches:>6}{k.p50_ms:>9.2f}{k.p99_ms:>9.2f}{k.mean_hits:>7.1f}"
        )
    lines += [
        f"{'all':<28}{report.searches:>6}{report.p50_ms:>9.2f}{report.p99_ms:>9.2f}",
        "",
        f"{report.clients} client(s), {report.searches / max(report.elapsed_s, 1e-9):,.0f} "
        f"searches/s; CPU a search: {report.python_cpu_ms:.2f} ms Python, "
        f"{report.server_cpu_ms:.2f} ms PostgreSQL",
        f"goal: p99 <= {P99_GOAL_MS:.0f} ms; {report.p99_ms:.2f} ms "
        f"({'met' if report.goal_met else 'NOT met'})",
        f"loaded tokens match the service's: {report.tokens_match}",
    ]
    return "\n".join(lines)
