"""`collabd people import`: Excel's CSV in, every bad line named, nothing half-imported."""

from __future__ import annotations

import json

HEADER = "name,email,department,locale,head,leader\n"


def write(tmp_path, text: str, encoding: str = "utf-8") -> str:
    path = tmp_path / "people.csv"
    path.write_bytes(text.encode(encoding))
    return str(path)


def people(cli) -> list[dict]:
    return json.loads(cli.ok("people", "list", "--json"))


def test_excel_utf8_with_bom_and_crlf_imports_everyone(cli, tmp_path):
    text = (
        HEADER + "张伟,Zhang.Wei@Example.com,研发中心,zh-CN,,\r\n"
        "Emily Chen,emily@example.com,市场部,en,zhang.wei@example.com,\r\n"
    )
    out = cli.ok("people", "import", write(tmp_path, "\ufeff" + text.replace("\n", "\r\n")))
    assert "2 new" in out
    imported = {p["email"]: p for p in people(cli)}
    assert imported["zhang.wei@example.com"]["name"] == "张伟"  # addresses are lower-cased
    assert imported["emily@example.com"] == {
        "name": "Emily Chen",
        "email": "emily@example.com",
        "department": "市场部",
        "locale": "en",
        "head": "zhang.wei@example.com",
        "leader": None,
    }


def test_chinese_headers_and_gbk_csv_from_chinese_excel(cli, tmp_path):
    text = "姓名,邮箱,部门,语言,部门负责人,上级\n李娜,li.na@example.com,市场部,中文,,\n"
    out = cli.ok("people", "import", write(tmp_path, text, "gbk"))
    assert "read as GB18030" in out and "1 new" in out
    assert people(cli)[0]["name"] == "李娜"


def test_bad_rows_are_reported_by_line_and_nothing_is_imported(cli, tmp_path):
    path = write(
        tmp_path,
        HEADER
        + "张伟,zhang.wei@example.com,研发中心,zh-CN,,\n"
        + "李娜,not-an-address,市场部,zh-CN,,\n"
        + "王强,wang@example.com,,fr,,\n"
        + "赵敏,zhang.wei@example.com,客服部,,,\n",
    )
    code, _, err = cli("people", "import", path)
    assert code == 65  # EX_DATAERR
    assert f"{path}:3: email 'not-an-address' is not a mail address" in err
    assert f"{path}:4: department is empty" in err
    assert f"{path}:4: locale 'fr' is not zh-CN or en" in err
    assert f"{path}:5: email zhang.wei@example.com already on line 2" in err
    assert "nothing was imported" in err
    assert people(cli) == []


def test_unknown_head_is_an_error_not_a_silent_blank(cli, tmp_path):
    path = write(tmp_path, HEADER + "张伟,zhang.wei@example.com,研发中心,zh-CN,boss@example.com,\n")
    code, _, err = cli("people", "import", path)
    assert code == 65
    assert f"{path}:2: head boss@example.com is neither in this file nor already imported" in err
    assert people(cli) == []


def test_missing_column_names_the_header(cli, tmp_path):
    code, _, err = cli("people", "import", write(tmp_path, "name,mail\nx,y@z.com\n"))
    assert code == 65 and "missing column(s) email, department" in err


def test_reimport_updates_people_and_records_each_change(cli, tmp_path):
    cli.ok(
        "people",
        "import",
        write(
            tmp_path,
            HEADER + "张伟,zw@example.com,研发中心,zh-CN,,\n刘洋,ly@example.com,总经办,zh-CN,,\n",
        ),
    )
    out = cli.ok(
        "people",
        "import",
        write(
            tmp_path,
            HEADER + "张伟,zw@example.com,市场部,en,,"
            "ly@example.com\n刘洋,ly@example.com,总经办,zh-CN,,\n",
        ),
    )
    assert "0 new, 1 updated, 1 unchanged" in out
    zhang = next(p for p in people(cli) if p["email"] == "zw@example.com")
    assert (zhang["department"], zhang["locale"], zhang["leader"]) == (
        "市场部",
        "en",
        "ly@example.com",
    )


def test_a_fresh_install_with_an_operator_configured_can_import_its_people(
    cli, tmp_path, config_file
):
    """[cli] operator = "陈静" before anyone is in the ledger: check-config warns, people
    import works (recorded as the OS user, with a warning), and then 陈静 is the operator."""
    config_file.write_text(config_file.read_text("utf-8") + '\n[cli]\noperator = "陈静"\n', "utf-8")
    code, out, err = cli("check-config")
    assert code == 0 and "config ok" in out
    code, _, err = cli("people", "list")  # creates the empty ledger
    assert code == 0
    code, _, err = cli("check-config")
    assert code == 0 and "[cli] operator = '陈静'" in err and "warning" in err
    csv = write(tmp_path, HEADER + "陈静,chen.jing@example.com,总经办,zh-CN,,\n")
    code, out, err = cli("people", "import", csv)
    assert code == 0, err
    assert "warning" in err and "陈静" in err
    assert [p["name"] for p in people(cli)] == ["陈静"]
    code, _, err = cli("check-config")
    assert code == 0 and "[cli] operator" not in err  # its warning is gone
    # Once the people list exists, an unknown operator is refused again (exit 78).
    config_file.write_text(config_file.read_text("utf-8").replace('"陈静"', '"Nobody"'), "utf-8")
    code, _, err = cli("collab", "create", "--file", str(tmp_path / "none.toml"))
    assert code == 78 and "[cli] operator = 'Nobody'" in err
    code, out, err = cli("check-config")
    assert code == 78 and "[cli] operator = 'Nobody'" in err and "config ok" not in out
