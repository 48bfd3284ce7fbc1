"""Build the test records in this folder.

    python tests/data/marc/make_samples.py [path/to/BooksAll.2016.part01.utf8]

marc8.dat is a MARC-8 record from pymarc's test files (a LoC record).

The outputs are committed; this script documents how they were made and
rebuilds them if the records need to change.
"""

from __future__ import annotations

import sys
from pathlib import Path

from pymarc import Field, Indicators, Leader, MARCReader, Record, Subfield, XMLWriter

HERE = Path(__file__).parent
BLANK = Indicators(" ", " ")


def _record(control: str, fields: list[Field], leader: str = "00000nam a2200000 i 4500") -> Record:
    record = Record()
    record.leader = Leader(leader)
    record.add_field(Field("001", data=control), Field("003", data="ILSB"))
    for field in fields:
        record.add_ordered_field(field)
    return record


def _data(tag: str, *pairs: str, ind: Indicators = BLANK) -> Field:
    return Field(tag, ind, [Subfield(pairs[i], pairs[i + 1]) for i in range(0, len(pairs), 2)])


def chinese() -> Record:
    return _record(
        "CN0001",
        [
            Field("008", data="230115s2022    cc a          000 0 chi d"),
            _data("020", "a", "978-7-111-54493-7", "c", "CNY89.00"),
            _data("041", "a", "chi", ind=Indicators("0", " ")),
            _data("084", "a", "TP312", "2", "clc"),
            _data("100", "a", "周志华", ind=Indicators("1", " ")),
            _data("245", "a", "机器学习 /", "c", "周志华著.", ind=Indicators("1", "0")),
            _data("264", "a", "北京 :", "b", "清华大学出版社,", "c", "2022.", ind=Indicators(" ", "1")),
            _data("365", "b", "89.00", "c", "CNY"),
            _data("650", "a", "机器学习", ind=Indicators(" ", "7")),
        ],
    )


def vietnamese() -> Record:
    return _record(
        "VN0001",
        [
            Field("008", data="210301s2021    vm a          000 0 vie d"),
            _data("020", "a", "8934974170617", "c", "120.000 ₫"),
            _data("082", "a", "895.9223", ind=Indicators("0", "4")),
            _data("100", "a", "Nguyễn Nhật Ánh", ind=Indicators("0", " ")),
            _data("245", "a", "Tôi thấy hoa vàng trên cỏ xanh /", "c", "Nguyễn Nhật Ánh.", ind=Indicators("1", "0")),
            _data("260", "a", "Hà Nội :", "b", "Nhà xuất bản Trẻ,", "c", "2021."),
        ],
    )


def with_852(record: Record, items: list[tuple[str, str, str, str]]) -> Record:
    """MARC21 holdings: one 852 + 876 pair per item (barcode, branch, location, price)."""
    for number, (barcode, branch, location, price) in enumerate(items, start=1):
        record.add_ordered_field(_data("852", "8", str(number), "b", branch, "c", location, "h", "TP312", "i", "Z78"))
        record.add_ordered_field(_data("876", "8", str(number), "p", barcode, "d", price, "t", str(number)))
    return record


def with_952(record: Record, items: list[tuple[str, str, str, str, str]]) -> Record:
    """Koha holdings: one 952 per item (barcode, branch, location, item type, price)."""
    for number, (barcode, branch, location, item_type, price) in enumerate(items, start=1):
        record.add_ordered_field(
            _data(
                "952",
                "p",
                barcode,
                "a",
                branch,
                "c",
                location,
                "o",
                "TP312/Z78",
                "y",
                item_type,
                "g",
                price,
                "t",
                str(number),
                "8",
                "GEN",
            )
        )
    return record


def write(name: str, records: list[bytes]) -> None:
    (HERE / name).write_bytes(b"".join(records))


def broken_files(good1: bytes, good2: bytes) -> None:
    """Each broken file: a good record, a broken one, a good one (to test resynchronising)."""
    bad_leader = b"XXXXX" + good1[5:]
    directory_start = 24
    bad_directory = good1[:directory_start] + b"245ABCD00000" + good1[directory_start + 12 :]
    bad_length = b"%05d" % (len(good1) + 7) + good1[5:]
    truncated = good1[: len(good1) // 2]
    invalid_utf8 = good1.replace("周志华".encode(), b"\xff\xfe\xfd" + "志华".encode()[:-3] + b"\xc3\x28\xe5")
    no_245 = chinese()
    no_245.remove_fields("245")
    write("bad_leader.mrc", [good1, bad_leader, good2])
    write("bad_directory.mrc", [good1, bad_directory, good2])
    write("bad_length.mrc", [good1, bad_length, good2])
    write("invalid_utf8.mrc", [good1, invalid_utf8, good2])
    write("missing_245.mrc", [good1, no_245.as_marc(), good2])
    write("truncated.mrc", [good1, good2, truncated])


def loc_slices(books_all: Path, count: int = 200) -> None:
    """Slices of LoC's BooksAll.2016.part01.utf8 (shipped in pymarc's sdist): ISO 2709, MARCXML, JSON."""
    with open(books_all, "rb") as source:
        raw = [record.as_marc() for _, record in zip(range(count), MARCReader(source))]
    write("loc_books.mrc", raw)
    records = [Record(data=data) for data in raw[:20]]
    xml = XMLWriter(open(HERE / "loc_books.xml", "wb"))
    for record in records:
        xml.write(record)
    xml.close()
    (HERE / "loc_books.json").write_text(
        "[\n" + ",\n".join(record.as_json() for record in records) + "\n]\n", encoding="utf-8"
    )


def main() -> None:
    cn_852 = with_852(chinese(), [("C0000001", "MAIN", "STACKS", "89.00"), ("C0000002", "EAST", "REF", "")])
    vn_852 = with_852(vietnamese(), [("V0000001", "HN", "STACKS", "120000 VND")])
    write("unicode_852.mrc", [cn_852.as_marc(), vn_852.as_marc()])
    cn_952 = with_952(
        chinese(), [("C0000001", "MAIN", "STACKS", "BK", "89.00"), ("C0000002", "EAST", "REF", "REF", "")]
    )
    vn_952 = with_952(vietnamese(), [("V0000001", "HN", "STACKS", "BK", "120.000 VND")])
    write("unicode_952.mrc", [cn_952.as_marc(), vn_952.as_marc()])
    broken_files(chinese().as_marc(), vietnamese().as_marc())
    if len(sys.argv) > 1:  # path to BooksAll.2016.part01.utf8
        loc_slices(Path(sys.argv[1]))


if __name__ == "__main__":
    main()
