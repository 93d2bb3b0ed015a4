"""Readers at their edges (issue 26, nothing lost, nothing silent): ids kept as written,
missing group ids and duplicate row ids refused, extreme values refused, every PNG pixel
format decoded faithfully, oversized images and escaping links refused, bad ``--data``
options and absurd model sizes refused in one line."""

from __future__ import annotations

import struct
import zlib

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from groupvae.cli import app
from groupvae.data import DATASETS
from groupvae.data.readers import (
    read_h5ad,
    read_image_folder,
    read_npz,
    read_table,
    write_h5ad,
)
from groupvae.errors import ConfigError, DataError
from groupvae.models import create
from groupvae.models.base import check_model_size

runner = CliRunner()


def one_line(err: pytest.ExceptionInfo) -> str:
    message = str(err.value)
    assert "\n" not in message
    return message


def write_csv(path, text: str):
    path.write_text(text)
    return path


# ------------------------------------------------------------------ ids as written


def test_csv_ids_and_categories_are_kept_as_written(tmp_path):
    path = write_csv(
        tmp_path / "s.csv",
        "school,level,score,2020\n007,01,1.5,3\n007,1,2.5,4\n7,01,0.5,5\n7,1,3.0,7\n",
    )
    data = read_table(path, group="school", features="score,level", categorical="level")
    assert list(data.group_ids) == ["007", "7"]  # two groups, not one group 7
    assert list(data.group) == [0, 0, 1, 1]
    assert data.transform.categories == {"level": ["01", "1"]}  # two levels, not one
    np.testing.assert_allclose(data.transform.inverse(data.x)[:, 0], [1.5, 2.5, 0.5, 3.0])
    # a column called 2020, named as an int (as --data features=2020 reads it) or as text
    for name in (2020, "2020", [2020]):
        by_year = read_table(path, group="school", features=name)
        assert by_year.transform.columns == ("2020",)
        np.testing.assert_allclose(by_year.transform.inverse(by_year.x)[:, 0], [3, 4, 5, 7])


def test_duplicate_row_ids_are_refused_naming_them(tmp_path):
    path = write_csv(tmp_path / "s.csv", "id,school,x\n1,a,0.1\n1,a,0.2\n2,b,0.3\n3,b,0.5\n")
    with pytest.raises(DataError) as err:
        read_table(path, group="school", features="x", id="id")
    assert "the id column 'id' has duplicate values: '1' (2 rows)" in one_line(err)
    frame = pd.DataFrame({"g": ["a", "a"], "x": [0.0, 1.0]}, index=[5, 5])
    with pytest.raises(DataError, match=r"the table's index has duplicate values: 5"):
        read_table(frame, group="g")


def test_a_missing_group_id_is_refused_naming_the_rows(tmp_path):
    path = write_csv(tmp_path / "s.csv", "school,x\na,0.1\n,0.2\nb,0.3\n,0.4\n")
    with pytest.raises(DataError) as err:
        read_table(path, group="school", features="x")
    assert "2 rows have missing values (in school; rows 1, 3)" in one_line(err)


def test_npz_missing_group_id_and_extreme_values(tmp_path):
    x = np.arange(8, dtype=np.float64).reshape(4, 2)
    np.savez(tmp_path / "g.npz", x=x, group=np.array([1.0, np.nan, 2.0, 1.0]))
    with pytest.raises(DataError) as err:
        read_npz(tmp_path / "g.npz")
    assert "group is missing for 1 rows (1)" in one_line(err)
    big = x.copy()
    big[2, 1] = 1e300
    np.savez(tmp_path / "big.npz", x=big, group=np.array([1, 1, 2, 2]))
    with pytest.raises(DataError) as err:  # standardised: std overflows
        read_npz(tmp_path / "big.npz", standardise=True)
    assert "feature 'x1' has values too large to standardise" in one_line(err)
    assert "2 (1e+300)" in str(err.value)
    with pytest.raises(DataError) as err:  # as it is: beyond float32
        read_npz(tmp_path / "big.npz")
    assert "feature 'x1' is not finite in model units" in one_line(err)


def write_h5ad_with_missing_group(path):
    anndata = pytest.importorskip("anndata")
    obs = pd.DataFrame(
        {"donor": pd.Categorical(["d1", None, "d2", "d1"], categories=["d1", "d2"])},
        index=[f"cell{i}" for i in range(4)],
    )
    write_h5ad(anndata.AnnData(X=np.ones((4, 3), dtype=np.float32), obs=obs), path)


def test_h5ad_missing_group_id_is_refused_naming_the_cell(tmp_path):
    write_h5ad_with_missing_group(tmp_path / "c.h5ad")
    with pytest.raises(DataError) as err:
        read_h5ad(tmp_path / "c.h5ad", group="donor")
    assert "'donor' is missing for 1 rows ('cell1')" in one_line(err)


# ------------------------------------------------------------------ extreme values


@pytest.mark.parametrize("value", ["1e300", "inf"])
def test_a_column_too_large_to_standardise_is_refused_naming_the_row(tmp_path, value):
    path = write_csv(tmp_path / "s.csv", f"school,x,y\na,1,0\na,2,1\nb,{value},0\nb,4,1\n")
    with pytest.raises(DataError) as err:
        read_table(path, group="school", features="x,y")
    message = one_line(err)
    assert "feature 'x' has values too large to standardise" in message and "rows 2 (" in message


def test_new_rows_beyond_float32_in_the_runs_units_are_refused(tmp_path):
    path = write_csv(tmp_path / "s.csv", "school,x\na,1\na,2\nb,3\nb,4\n")
    t = read_table(path, group="school").transform
    write_csv(tmp_path / "new.csv", "school,x\na,1\na,1e300\n")
    with pytest.raises(DataError) as err:
        read_table(tmp_path / "new.csv", group="school", transform=t)
    assert "feature 'x' is not finite in model units" in one_line(err) and "rows 1" in str(err)


# ------------------------------------------------------------------ images


def write_mode(path, mode: str):
    """A 4 x 4 PNG of one known pixel in ``mode``; returns ``(grey, rgb)`` expected."""
    from PIL import Image

    if mode == "1":
        image, grey, rgb = Image.new("1", (4, 4), 1), 1.0, (1.0, 1.0, 1.0)
    elif mode == "L":
        image, grey, rgb = Image.new("L", (4, 4), 51), 0.2, (0.2, 0.2, 0.2)
    elif mode == "LA":  # 0.2 at alpha 0.4 on white: 0.2 * 0.4 + 0.6
        image, grey, rgb = Image.new("LA", (4, 4), (51, 102)), 0.68, (0.68, 0.68, 0.68)
    elif mode == "P":
        image = Image.new("P", (4, 4), 1)
        image.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762)
        grey, rgb = 0.299, (1.0, 0.0, 0.0)
    elif mode == "RGB":
        image, grey, rgb = Image.new("RGB", (4, 4), (255, 0, 0)), 0.299, (1.0, 0.0, 0.0)
    elif mode == "RGBA":  # blue at alpha 0.4 on white
        image, rgb = Image.new("RGBA", (4, 4), (0, 0, 255, 102)), (0.6, 0.6, 1.0)
        grey = 0.299 * 0.6 + 0.587 * 0.6 + 0.114
    else:  # I;16: 16-bit grey, 13107 / 65535 = 0.2 (Pillow 8 bits would saturate it)
        image = Image.fromarray(np.full((4, 4), 13107, dtype=np.uint16))
        assert image.mode == mode
        grey, rgb = 0.2, (0.2, 0.2, 0.2)
    image.save(path)
    return grey, rgb


@pytest.mark.parametrize("mode", ["1", "L", "LA", "P", "RGB", "RGBA", "I;16"])
def test_every_png_pixel_format_decodes_to_its_value(tmp_path, mode):
    (tmp_path / "g").mkdir()
    grey, rgb = write_mode(tmp_path / "g" / "a.png", mode)
    got_grey = read_image_folder(tmp_path, size=4).x
    got_rgb = read_image_folder(tmp_path, size=4, mode="rgb").x
    np.testing.assert_allclose(got_grey, grey, atol=2e-3)
    expected = np.broadcast_to(np.asarray(rgb)[None, :, None, None], got_rgb.shape)
    np.testing.assert_allclose(got_rgb, expected, atol=2e-3)


def test_32_bit_grey_is_read_as_16_bit_and_out_of_range_refused():
    # Pillow opens 16-bit PNGs as I;16 (older versions as I) and writes no I to PNG: the
    # decoder is checked on an image in memory.
    from PIL import Image

    from groupvae.data.readers.image_folder import _pixels

    image = Image.fromarray(np.full((2, 2), 13107, dtype=np.int32))
    assert image.mode == "I"
    np.testing.assert_allclose(_pixels(image), 0.2)
    with pytest.raises(DataError, match=r"beyond 16 bits"):
        _pixels(Image.fromarray(np.full((2, 2), 70000, dtype=np.int32)))


def png_header(path, width: int, height: int) -> None:
    """A PNG whose header claims ``width x height`` (8-bit grey) and holds no pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(kind + data))
        return struct.pack(">I", len(data)) + kind + data + crc

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"")
                     + chunk(b"IEND", b""))  # fmt: skip


@pytest.mark.parametrize(
    ("side", "message"),
    [(20_000, "too large to decode"), (8_000, "over the limit of 50,000,000")],
)
def test_an_image_over_the_pixel_limit_is_refused_before_decoding(tmp_path, side, message):
    (tmp_path / "g").mkdir()
    png_header(tmp_path / "g" / "bomb.png", side, side)
    with pytest.raises(DataError) as err:
        read_image_folder(tmp_path, size=4)
    assert message in one_line(err) and "bomb.png" in str(err.value)


def test_a_link_that_leaves_the_folder_is_refused_naming_it(tmp_path):
    from PIL import Image

    root = tmp_path / "faces"
    (root / "g").mkdir(parents=True)
    Image.new("L", (4, 4), 10).save(root / "g" / "in.png")
    Image.new("L", (4, 4), 10).save(tmp_path / "secret.png")
    (root / "g" / "inner.png").symlink_to(root / "g" / "in.png")  # inside: fine
    assert read_image_folder(root, size=4).n_obs == 2
    (root / "g" / "out.png").symlink_to(tmp_path / "secret.png")
    with pytest.raises(DataError) as err:
        read_image_folder(root, size=4)
    assert "1 images in" in one_line(err) and "links that leave it (g/out.png)" in str(err.value)


# ------------------------------------------------------------------ --data options


def train(tmp_path, dataset: str, *data: str, sets: tuple[str, ...] = ()):
    args = ["train", "mlvae", dataset, "--out", str(tmp_path / "run"), "--epochs", "1"]
    for option in data:
        args += ["--data", option]
    for option in ("progress=false", *sets):
        args += ["--set", option]
    return runner.invoke(app, args)


def assert_one_line_error(result, *parts: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert all(p in lines[0] for p in parts), lines[0]


@pytest.fixture
def files(tmp_path):
    from PIL import Image

    write_csv(tmp_path / "s.csv", "school,x,y\na,1,0\na,2,1\nb,3,0\nb,4,1\nc,5,0\nc,6,1\n")
    np.savez(tmp_path / "d.npz", x=np.ones((4, 2)), group=np.array([0, 0, 1, 1]))
    (tmp_path / "faces" / "g").mkdir(parents=True)
    Image.new("L", (4, 4), 10).save(tmp_path / "faces" / "g" / "a.png")
    (tmp_path / "c.h5ad").write_text("never read: the option is refused first")
    return tmp_path


@pytest.mark.parametrize(
    ("dataset", "path", "takes"),
    [
        ("table", "s.csv", "binary, categorical, continuous, counts, echo, features, group"),
        ("npz", "d.npz", "name, path, standardise"),
        ("anndata", "c.h5ad", "group, labels, layer, name, path"),
        ("image-folder", "faces", "labels, mode, name, path, size"),
    ],
)
def test_an_unknown_data_option_is_one_line_naming_the_valid_ones(files, dataset, path, takes):
    group = ("group=school",) if dataset in ("table", "anndata") else ()
    result = train(files, dataset, f"path={files / path}", *group, "colour=red")
    assert_one_line_error(result, "unknown data option(s) ['colour']", takes)


@pytest.mark.parametrize(
    ("dataset", "options", "message"),
    [
        ("image-folder", ("size=abc",), "data option size must be int, got 'abc'"),
        ("npz", ("standardise=maybe",), "data option standardise must be bool, got 'maybe'"),
        ("table", ("group=school", "features=3"), "has no column(s) [3]; its columns are"),
        ("table", ("group=school", "features=1.5"), "features must be column names"),
        ("table", ("group=school", "missing=guess"), "missing must be one of"),
    ],
)
def test_a_bad_data_option_value_is_one_line(files, dataset, options, message):
    path = {"image-folder": "faces", "npz": "d.npz", "table": "s.csv"}[dataset]
    assert_one_line_error(train(files, dataset, f"path={files / path}", *options), message)


def test_an_int_feature_option_is_the_column_of_that_name(tmp_path):
    write_csv(tmp_path / "s.csv", "school,3,y\na,1,0\na,2,1\nb,3,0\nb,4,1\n")
    data = DATASETS["table"].load(path=str(tmp_path / "s.csv"), group="school", features=3)
    assert data.transform.columns == ("3",)


# ------------------------------------------------------------------ model sizes


def test_an_absurd_model_size_is_refused_before_allocation():
    for setting in ({"group_dim": 1_000_000_000}, {"hidden": 100_000_000}):
        with pytest.raises(ConfigError) as err:
            create("mlvae", dataset="mnist", **setting)
        assert "GiB as float32), over the limit of 16 GiB" in one_line(err)
    model = create("mlvae", dataset="exam-scores")
    assert check_model_size(lambda: model._build_module(model.config)) == sum(
        p.numel() for p in model.module.parameters()
    )


def test_cli_refuses_an_absurd_model_size_in_one_line(files):
    result = train(files, "table", f"path={files / 's.csv'}", "group=school",
                   sets=("hidden=100000000",))  # fmt: skip
    assert_one_line_error(result, "parameters (", "over the limit of 16 GiB")
