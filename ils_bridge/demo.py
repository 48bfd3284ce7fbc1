"""A ready demo: two libraries from the example policies, patrons, SIP2 terminals and a catalogue.

Xuzhou Medical University Library (Chinese, CNY) and the Ho Chi Minh City
General Sciences Library (Vietnamese, VND).  The catalogue is written as MARC
records with Koha-style 952 holdings and loaded through the real importer, so
the demo exercises the same path a cataloger uses.  Everything a vendor needs
to point a kiosk at it is in ``DEMO_LOGINS`` / ``DEMO_PATRONS`` and printed by
``ils-bridge demo`` (and listed in the README).
"""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pymarc

from ils_bridge.app import App, Library
from marc.importer import ImportReport, import_files
from ils_bridge.services.catalogue import Catalogue
from sip2_server.terminals import TerminalDirectory

EXAMPLES = Path(__file__).resolve().parent.parent / "policies" / "examples"
VALID_UNTIL = dt.date(2030, 7, 1)


@dataclass(frozen=True)
class DemoTitle:
    control: str
    title: str
    author: str
    year: int
    language: str  # MARC code
    classification: str | None
    material: str
    price: str
    copies: int


@dataclass(frozen=True)
class DemoTerminal:
    library: str
    login: str
    password: str
    institution: str
    kind: str


@dataclass(frozen=True)
class DemoPatron:
    library: str
    number: str
    name: str
    patron_type: str
    pin: str
    package: str | None = None
    note: str = ""


XUZHOU_TITLES = (
    DemoTitle("XZ001", "内科学", "葛均波", 2018, "chi", "R5", "zh_book", "89.00", 3),
    DemoTitle("XZ002", "系统解剖学", "丁文龙", 2016, "chi", "R322", "zh_book", "65.00", 2),
    DemoTitle("XZ003", "医学统计学", "李晓松", 2019, "chi", "R195.1", "zh_book", "48.00", 2),
    DemoTitle("XZ004", "中国近现代史纲要", "本书编写组", 2021, "chi", "K25", "zh_book", "25.00", 3),
    DemoTitle("XZ005", "管理学原理", "周三多", 2015, "chi", "C93", "zh_book", "39.80", 2),
    DemoTitle("XZ006", "药理学", "江明性", 1988, "chi", "R96", "zh_book", "3.50", 2),
    DemoTitle("XZ007", "Harrison's Principles of Internal Medicine", "Loscalzo, Joseph", 2022, "eng", "R5",
              "foreign_book", "1200.00", 2),
    DemoTitle("XZ008", "中华医学大辞典", "谢观", 1990, "chi", "R-61", "reference", "320.00", 1),
    DemoTitle("XZ009", "中华医学杂志", "中华医学会", 2026, "chi", "R", "zh_current_periodical", "30.00", 1),
)
HCMC_TITLES = (
    DemoTitle("HC001", "Lịch sử Việt Nam", "Trần Trọng Kim", 2019, "vie", None, "book", "150000", 2),
    DemoTitle("HC002", "Truyện Kiều", "Nguyễn Du", 2020, "vie", None, "book", "85000", 2),
    DemoTitle("HC003", "Tiếng Việt thực hành", "Bùi Minh Toán", 2018, "vie", None, "book", "120000", 2),
    DemoTitle("HC004", "Kinh tế học vĩ mô", "N. Gregory Mankiw", 2021, "vie", None, "book", "250000", 2),
    DemoTitle("HC005", "Từ điển tiếng Việt", "Hoàng Phê", 2016, "vie", None, "book", "400000", 1),
)
DEMO_PATRONS = (
    DemoPatron("xuzhou", "20230001", "王小明", "undergraduate", "1234", note="30 items; SS 30 days, NS 60 days"),
    DemoPatron("xuzhou", "D2023001", "李华", "phd", "1234", note="50 items"),
    DemoPatron("xuzhou", "E0001", "张伟", "external", "1234", note="4 items, 2 SS + 2 NS, 30 days"),
    DemoPatron("hcmc", "R0001", "Nguyễn Văn An", "reader", "1234", "package-200k", "2 items, total price <= 300,000"),
    DemoPatron("hcmc", "R0002", "Trần Thị Bình", "reader", "1234", "package-500k", "5 items, total price <= 750,000"),
    DemoPatron("hcmc", "R0003", "Lê Văn Cường", "reader", "1234", None, "no package: home loans refused"),
)
DEMO_LOGINS = (
    DemoTerminal("xuzhou", "xz-kiosk-1", "kiosk-pass", "XZMU", "selfcheck"),
    DemoTerminal("xuzhou", "xz-gate-1", "gate-pass", "XZMU", "gate"),
    DemoTerminal("hcmc", "hcmc-kiosk-1", "kiosk-pass", "HCMCGSL", "selfcheck"),
)
CATALOGUES = {"xuzhou": ("XZ", XUZHOU_TITLES, "CNY"), "hcmc": ("HC", HCMC_TITLES, "VND")}


def barcodes(prefix: str, title: DemoTitle) -> list[str]:
    return [f"{title.control}-{n}" for n in range(1, title.copies + 1)]


def demo_record(title: DemoTitle, currency: str) -> pymarc.Record:
    """A brief MARC21 record with one Koha 952 per copy; 952$y is the policy's material code."""
    record = pymarc.Record(force_utf8=True, leader="00000nam a22000007a 4500")
    lang = title.language
    record.add_field(pymarc.Field(tag="001", data=title.control), pymarc.Field(tag="003", data="ILSBDEMO"),
                     pymarc.Field(tag="008", data=f"260101s{title.year}    xx            000 0 {lang} d"))
    blank = pymarc.Indicators(" ", " ")
    if title.classification:
        record.add_field(pymarc.Field("084", blank, [pymarc.Subfield("a", title.classification), pymarc.Subfield("2", "clc")]))
    record.add_field(
        pymarc.Field("100", pymarc.Indicators("1", " "), [pymarc.Subfield("a", title.author)]),
        pymarc.Field("245", pymarc.Indicators("1", "0"), [pymarc.Subfield("a", title.title)]),
        pymarc.Field("264", pymarc.Indicators(" ", "1"), [pymarc.Subfield("c", str(title.year))]),
    )
    for copy, barcode in enumerate(barcodes("", title), start=1):
        record.add_field(pymarc.Field("952", blank, [
            pymarc.Subfield("a", "main"), pymarc.Subfield("c", "stacks"), pymarc.Subfield("o", title.classification or ""),
            pymarc.Subfield("p", barcode), pymarc.Subfield("y", title.material),
            pymarc.Subfield("g", f"{title.price} {currency}"), pymarc.Subfield("t", str(copy)),
        ]))
    return record


def seed(app: App) -> dict[str, ImportReport]:
    """Create the demo libraries in an empty database; return the import report of each catalogue."""
    reports = {}
    for code in CATALOGUES:
        app.create_library((EXAMPLES / f"{code}.yaml").read_text(encoding="utf-8"), author="demo",
                           message="example policy", filename=f"{code}.yaml")
    for patron in DEMO_PATRONS:
        _add_patron(app.library(patron.library), patron)
    directory = TerminalDirectory(app)
    for terminal in DEMO_LOGINS:
        directory.add(terminal.library, terminal.login, terminal.password, institution_id=terminal.institution,
                      kind=terminal.kind)
    for code, (_, titles, currency) in CATALOGUES.items():
        reports[code] = _load_catalogue(app.library(code), titles, currency)
    return reports


def _add_patron(lib: Library, patron: DemoPatron) -> None:
    for outcome in (
        lib.register_patron(patron.number, patron.name, patron.patron_type),
        lib.issue_card(patron.number, patron.number, valid_until=VALID_UNTIL),
        lib.set_pin(patron.number, patron.pin),
        lib.buy_package(patron.number, patron.package) if patron.package else None,
    ):
        if outcome is not None and not outcome.ok:
            raise RuntimeError(f"demo patron {patron.number}: {outcome.reason.value}: {outcome.message}")


def _load_catalogue(lib: Library, titles: tuple[DemoTitle, ...], currency: str) -> ImportReport:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{lib.code}-demo.mrc"
        with path.open("wb") as out:
            for title in titles:
                out.write(demo_record(title, currency).as_marc())
        catalogue = Catalogue(lib.app.db.engine, lib.record.id)
        report = import_files(catalogue, [path], mode="add", mapping="koha952")
    if report.failed:
        raise RuntimeError(f"demo catalogue for {lib.code}: {report.failed} record(s) failed to import")
    return report
