"""A nurse's lists in SQL on a seeded archive: the queries of a tree's sql/
against the current schema, seven runs each, the median printed.

    git show d59f24e:sql/reports.sql > /tmp/oldsql/reports.sql   # and history, notifications
    python -m bench.ward_scope /tmp/oldsql old     # scope by "patient IN (the ward's patients)"
    python -m bench.ward_scope sql new             # scope by the rows' own ward (0013)

Run the two alternately (README, Performance: "Rows carry their ward").
"""

import datetime as dt
import statistics
import sys
import time
from pathlib import Path

import psycopg2

from service.sqlfiles import load

directory, which = sys.argv[1], sys.argv[2]
Q = load(Path(directory))
DATABASE = sys.argv[3] if len(sys.argv) > 3 else "dengue_bench_scale_10000"
conn = psycopg2.connect(f"postgresql://postgres@127.0.0.1:5432/{DATABASE}")
conn.autocommit = True
cur = conn.cursor()
cur.execute("SET TIME ZONE 'UTC'; SET plan_cache_mode = force_custom_plan; SET jit = off")
cur.execute("SELECT time, id FROM reports ORDER BY time DESC, id DESC OFFSET 250000 LIMIT 1")
mk, mi = cur.fetchone()
cur.execute("SELECT max(time) FROM reports")
(newest,) = cur.fetchone()
cur.execute("SELECT patient FROM reports ORDER BY time DESC LIMIT 1")
(pat,) = cur.fetchone()
base = {"wards": [1], "ward": None, "after_key": None, "after_id": None, "limit": 101, "offset": 0}
R = {"patient": None, "since": None, "until": None}
N = {"patient": None, "acknowledged": None, "admitted": None}
cases = {
    "reports first page": ("list_reports", {**base, **R}),
    "reports middle page": ("list_reports", {**base, **R, "after_key": mk, "after_id": mi}),
    "reports ?patient=": ("list_reports", {**base, **R, "patient": pat}),
    "board ?ward=1&since=72h": (
        "list_reports",
        {**base, **R, "ward": 1, "since": newest - dt.timedelta(hours=72), "limit": 1001},
    ),
    "notifications ?acknowledged=false&ward=1": ("list_notifications", {**base, **N, "acknowledged": False, "ward": 1}),
    "history first page": ("list_history", {**base, "patient": None, "report": None, "since": None, "until": None}),
}
out = {}
for label, (name, params) in cases.items():
    q = getattr(Q, name)
    cur.execute("DEALLOCATE ALL; " + q.prepare)
    times = []
    for _ in range(7):
        t = time.perf_counter()
        cur.execute(q.execute, params)
        cur.fetchall()
        times.append((time.perf_counter() - t) * 1000)
    out[label] = round(statistics.median(times), 2)
    print(f"{which:3} {label:45} {out[label]:8.2f} ms")
