"""The data contract refuses bad files with file, row, column and what was expected."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from augur.training.data.loader import DataError, load_dataset, load_table

GOOD_ORDERS = (
    "customer_id,order_id,item_id,timestamp,quantity,unit_price\n"
    "C1,O1,I1,2025-03-01T10:00:00+01:00,2,3.50\n"
    "C1,O1,I2,2025-03-01T10:00:00+01:00,-1,1.00\n"
    "C2,O2,I1,2025-03-02T08:30:00Z,1,3.50\n"
)


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_good_orders_are_typed_and_in_utc(tmp_path: Path) -> None:
    frame = load_table(write(tmp_path, "orders.csv", GOOD_ORDERS), "orders")
    assert list(frame["quantity"]) == [2, -1, 1]
    assert str(frame["timestamp"].dt.tz) == "UTC"
    assert frame["timestamp"].iloc[0] == pd.Timestamp("2025-03-01T09:00:00Z")


def test_missing_column_names_the_file_and_columns(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "customer_id,order_id,item_id,timestamp,quantity\nC1,O1,I1,2025-03-01T10:00:00Z,1\n",
    )
    with pytest.raises(DataError) as err:
        load_table(path, "orders")
    assert str(path) in str(err.value)
    assert "missing column(s) ['unit_price']" in str(err.value)


def test_bad_timestamp_gives_row_and_column(tmp_path: Path) -> None:
    text = GOOD_ORDERS + "C3,O3,I1,2025-13-45T99:00:00Z,1,2.0\n"
    with pytest.raises(DataError) as err:
        load_table(write(tmp_path, "orders.csv", text), "orders")
    assert err.value.row == 4 and err.value.column == "timestamp"
    assert "row 4, column 'timestamp'" in str(err.value)
    assert "2025-13-45" in str(err.value)


def test_timestamp_without_offset_is_refused(tmp_path: Path) -> None:
    text = GOOD_ORDERS + "C3,O3,I1,2025-03-04T10:00:00,1,2.0\n"
    with pytest.raises(DataError, match="with an offset") as err:
        load_table(write(tmp_path, "orders.csv", text), "orders")
    assert err.value.row == 4


@pytest.mark.parametrize(
    ("line", "column", "expected"),
    [
        ("C3,O3,I1,2025-03-04T10:00:00Z,1000001,2.0", "quantity", "<= 1e"),
        ("C3,O3,I1,2025-03-04T10:00:00Z,1.5,2.0", "quantity", "integer"),
        ("C3,O3,I1,2025-03-04T10:00:00Z,1,-2", "unit_price", ">= 0"),
        ("C3,O3,I1,2025-03-04T10:00:00Z,1,abc", "unit_price", "a number"),
        (",O3,I1,2025-03-04T10:00:00Z,1,2.0", "customer_id", "non-empty"),
    ],
)
def test_bad_values_are_located(tmp_path: Path, line: str, column: str, expected: str) -> None:
    with pytest.raises(DataError, match=expected) as err:
        load_table(write(tmp_path, "orders.csv", GOOD_ORDERS + line + "\n"), "orders")
    assert (err.value.row, err.value.column) == (4, column)


def test_bad_choice_and_zone(tmp_path: Path) -> None:
    inter = "customer_id,item_id,timestamp,type\nC1,I1,2025-03-01T10:00:00Z,click\n"
    with pytest.raises(DataError, match=r"expected one of \['view'"):
        load_table(write(tmp_path, "interactions.csv", inter), "interactions")
    cust = "customer_id,timezone\nC1,Europe/Paris\nC2,Mars/Olympus\n"
    with pytest.raises(DataError, match="IANA") as err:
        load_table(write(tmp_path, "customers.csv", cust), "customers")
    assert err.value.row == 2


def test_outcome_before_send_is_refused(tmp_path: Path) -> None:
    text = (
        "customer_id,contact_id,channel,sent_at,opened_at\n"
        "C1,K1,email,2025-03-01T10:00:00Z,2025-03-01T09:00:00Z\n"
    )
    with pytest.raises(DataError, match="before 'sent_at'") as err:
        load_table(write(tmp_path, "contacts.csv", text), "contacts")
    assert err.value.column == "opened_at"


def test_duplicate_key_is_refused(tmp_path: Path) -> None:
    text = "item_id,category\nI1,a\nI2,b\nI1,c\n"
    with pytest.raises(DataError, match="duplicate value 'I1'") as err:
        load_table(write(tmp_path, "items.csv", text), "items")
    assert err.value.row == 3


def test_missing_file_and_missing_required_table(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no such file"):
        load_table(tmp_path / "orders.csv", "orders")
    with pytest.raises(DataError, match="no such file or directory"):
        load_dataset(tmp_path / "nope")
    write(tmp_path, "items.csv", "item_id\nI1\n")
    with pytest.raises(DataError, match="missing required table 'orders'"):
        load_dataset(tmp_path)


def test_parquet_needs_tz_aware_timestamps(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "customer_id": ["C1"],
            "order_id": ["O1"],
            "item_id": ["I1"],
            "timestamp": [pd.Timestamp("2025-03-01T10:00:00")],
            "quantity": [1],
            "unit_price": [1.0],
        }
    )
    frame.to_parquet(tmp_path / "orders.parquet")
    with pytest.raises(DataError, match="no time zone"):
        load_table(tmp_path / "orders.parquet", "orders")
    frame["timestamp"] = frame["timestamp"].dt.tz_localize("Europe/Paris")
    frame.to_parquet(tmp_path / "orders.parquet")
    loaded = load_table(tmp_path / "orders.parquet", "orders")
    assert loaded["timestamp"].iloc[0] == pd.Timestamp("2025-03-01T09:00:00Z")


def test_a_bad_table_loads_nothing(tmp_path: Path, small_data: Path) -> None:
    """One bad row in an optional table refuses the whole data set: no partial load."""
    copy = tmp_path / "copy"
    shutil.copytree(small_data, copy)
    with (copy / "interactions.csv").open("a") as f:
        f.write("C0000001,I000001,yesterday,view\n")
    with pytest.raises(DataError, match=r"interactions\.csv, row"):
        load_dataset(copy)


def test_generated_data_follows_the_contract(small_data: Path) -> None:
    ds = load_dataset(small_data)
    assert len(ds.orders) > 1000 and len(ds.interactions) > 1000 and len(ds.contacts) > 100
    assert ds.customers["customer_id"].is_unique


def test_real_order_lines_are_accepted(tmp_path: Path) -> None:
    """Zero quantities (voided lines) and measured quantities (fuel) as real exports have."""
    text = (
        GOOD_ORDERS
        + "C3,O3,I1,2025-03-04T10:00:00Z,0,2.0\nC3,O4,F1,2025-03-05T10:00:00Z,25000,0.0014\n"
    )
    frame = load_table(write(tmp_path, "orders.csv", text), "orders")
    assert list(frame["quantity"].iloc[-2:]) == [0, 25000]


def test_every_problem_of_a_run_is_reported_at_once(tmp_path: Path) -> None:
    bad = "".join(f"C{i},O{i},I1,2025-03-04T10:00:00Z,1.5,2.0\n" for i in range(7))
    bad += "C9,O9,I1,yesterday,1,abc\n"
    write(tmp_path, "orders.csv", GOOD_ORDERS + bad)
    write(tmp_path, "items.csv", "item_id,category\nI1,a\nI1,b\n")
    with pytest.raises(DataError) as err:
        load_dataset(tmp_path)
    problems = {(Path(p.file).name, p.column): p for p in err.value.problems}
    assert set(problems) == {
        ("orders.csv", "quantity"),
        ("orders.csv", "timestamp"),
        ("orders.csv", "unit_price"),
        ("items.csv", "item_id"),
    }
    quantity = problems["orders.csv", "quantity"]
    assert quantity.count == 7 and quantity.rows == (4, 5, 6, 7, 8)
    assert "7 rows; first rows 4, 5, 6, 7, 8" in str(err.value)
    assert str(err.value).startswith("4 problems in the data:")


def test_problems_are_counted_across_chunks(tmp_path: Path) -> None:
    from augur.training.data.loader import iter_table

    lines = "".join(
        f"C{i},O{i},I1,2025-03-04T10:00:00Z,{'x' if i % 3 == 0 else 1},2.0\n" for i in range(10)
    )
    path = write(
        tmp_path,
        "orders.csv",
        "customer_id,order_id,item_id,timestamp,quantity,unit_price\n" + lines,
    )
    with pytest.raises(DataError) as err:
        list(iter_table(path, "orders", rows=4))
    (problem,) = err.value.problems
    assert problem.count == 4 and problem.rows == (1, 4, 7, 10)
