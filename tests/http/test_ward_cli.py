"""The command line of wards (issue 14, point 8): createuser --ward NAME
(repeatable), python -m service wards [create NAME]."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

from ..conftest import ROOT
from ..servers import service_env
from ..two_wards import add_ward


async def cli(settings: Any, *args: str, stdin: str = "") -> tuple[int, str, str]:
    """``python -m service ...`` against the test database (and the test's
    own Redis channel, so no other deployment hears its events)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "service",
        *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=ROOT,
        env=service_env(settings),
    )
    out, err = await asyncio.wait_for(proc.communicate(stdin.encode()), timeout=60)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


def wards_of(sql: Any, username: str) -> list[int]:
    rows = sql(
        "SELECT uw.ward FROM user_wards uw JOIN users u ON u.id = uw.user_id WHERE u.username = %s ORDER BY uw.ward",
        (username,),
    )
    return [ward for (ward,) in rows]


async def test_createuser_with_two_wards(settings, sql) -> None:
    b = add_ward(sql, "Isolation ward")
    c = add_ward(sql, "Ward C")
    code, out, err = await cli(
        settings,
        "createuser",
        "nia",
        "--password-stdin",
        "--ward",
        "Isolation ward",
        "--ward",
        "Ward C",
        stdin="a long new secret\n",
    )
    assert code == 0, err
    ((user_id,),) = sql("SELECT id FROM users WHERE username = 'nia'")
    assert out.strip() == f"Created user 'nia' (id {user_id})."
    assert err == ""
    assert wards_of(sql, "nia") == [b, c]


async def test_createuser_without_ward_joins_the_only_ward(settings, sql) -> None:
    code, _, err = await cli(settings, "createuser", "nia", "--password-stdin", stdin="a long new secret\n")
    assert code == 0, err
    assert wards_of(sql, "nia") == [1]
    # with two wards, none is assumed: the user is warned
    add_ward(sql)
    code, _, err = await cli(settings, "createuser", "noa", "--password-stdin", stdin="a long new secret\n")
    assert code == 0, err
    assert wards_of(sql, "noa") == []
    assert err.strip() == "Warning: the user belongs to no ward and sees no patient (give --ward NAME)."
    # staff see every ward: no warning
    code, _, err = await cli(settings, "createuser", "boss", "--staff", "--password-stdin", stdin="a long new secret\n")
    assert (code, err) == (0, "")


async def test_createuser_with_an_unknown_ward_is_refused(settings, sql) -> None:
    code, out, err = await cli(
        settings,
        "createuser",
        "nia",
        "--password-stdin",
        "--ward",
        "Dengue ward",
        "--ward",
        "Nowhere",
        stdin="a long new secret\n",
    )
    assert code == 1
    assert err.splitlines() == ['Error: ward: No ward named "Nowhere".']
    assert out == ""
    assert sql("SELECT count(*) FROM users") == [(0,)]
    assert sql("SELECT count(*) FROM audit_log") == [(0,)]


async def test_wards_lists_and_creates(settings, sql) -> None:
    code, out, err = await cli(settings, "wards")
    assert (code, out, err) == (0, "1\tDengue ward\n", "")
    code, out, err = await cli(settings, "wards", "create", "Isolation ward")
    assert (code, out, err) == (0, "Created ward 'Isolation ward' (id 2).\n", "")
    assert sql("SELECT id, name FROM wards ORDER BY id") == [(1, "Dengue ward"), (2, "Isolation ward")]
    code, out, err = await cli(settings, "wards")
    assert code == 0 and sorted(out.splitlines()) == ["1\tDengue ward", "2\tIsolation ward"]
    assert sql("SELECT actor, action, target_id, after FROM audit_log") == [
        (None, "ward.create", 2, {"name": "Isolation ward"})
    ]


async def test_wards_create_refusals(settings, sql) -> None:
    for args, message in (
        (("wards", "create", "Dengue ward"), "Error: a ward named 'Dengue ward' already exists."),
        (("wards", "create"), "Error: name the ward to create: wards create NAME"),
        (("wards", "create", "  "), "Error: name the ward to create: wards create NAME"),
        (("wards", "create", "x" * 101), "Error: a ward's name has at most 100 characters."),
    ):
        code, out, err = await cli(settings, *args)
        assert (code, out) == (1, ""), args
        assert err.splitlines() == [message], args
        assert "Traceback" not in err
    assert sql("SELECT id, name FROM wards") == [(1, "Dengue ward")]


async def test_deactivateuser_keeps_the_last_active_superuser(settings, sql, make_user) -> None:
    make_user("root", superuser=True)
    code, _, err = await cli(settings, "deactivateuser", "root")
    assert code == 1
    assert "Error: username: The last active superuser must stay an active superuser." in err.splitlines()
    assert sql("SELECT is_active FROM users WHERE username = 'root'") == [(True,)]
    make_user("root2", superuser=True)  # with another one, it may go
    code, out, err = await cli(settings, "deactivateuser", "root")
    assert code == 0, err
    assert sql("SELECT is_active FROM users WHERE username = 'root'") == [(False,)]
