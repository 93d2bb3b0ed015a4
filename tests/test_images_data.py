"""Image data sets: full MNIST from IDX or .npz files, UCI digits, and their registry entries."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from groupvae.data import (
    DATASETS,
    load_dataset,
    load_mnist,
    load_uci_digits,
    make_mnist_full_groups,
    make_uci_digits_groups,
    read_idx,
)
from groupvae.data.mnist import IDX_IMAGES_MAGIC, IDX_LABELS_MAGIC, MNIST_FILES
from groupvae.data.uci_digits import resize_images
from groupvae.errors import DataError
from groupvae.models import build_config, create
from groupvae.models.defaults import lookup

N_TRAIN, N_TEST = 30, 12


# ------------------------------------------------------------- file writers
def idx_bytes(array: np.ndarray, magic: int) -> bytes:
    """An IDX file: big-endian magic, big-endian uint32 sizes, then the bytes."""
    header = np.array([magic, *array.shape], dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, array: np.ndarray, magic: int) -> Path:
    data = idx_bytes(array, magic)
    if path.suffix == ".gz":
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        path.write_bytes(data)
    return path


def write_idx_folder(folder: Path, arrays: dict[str, np.ndarray], *, gz: bool = False) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in MNIST_FILES.items():
        magic = IDX_IMAGES_MAGIC if key.startswith("x") else IDX_LABELS_MAGIC
        write_idx(folder / (name + (".gz" if gz else "")), arrays[key], magic)
    return folder


@pytest.fixture(scope="module")
def arrays() -> dict[str, np.ndarray]:
    """Random uint8 "digits": 30 training and 12 test images, every image distinct."""
    rng = np.random.default_rng(0)
    return {
        "x_train": rng.integers(0, 256, (N_TRAIN, 28, 28), dtype=np.uint8),
        "y_train": np.arange(N_TRAIN, dtype=np.uint8) % 10,
        "x_test": rng.integers(0, 256, (N_TEST, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, N_TEST, dtype=np.uint8),
    }


def rows_of(images: np.ndarray, originals: np.ndarray) -> list[int]:
    """Index in ``originals`` (uint8 ``(n, 28, 28)``) of each loaded image."""
    where = {img.tobytes(): i for i, img in enumerate(originals)}
    return [where[np.rint(img[0] * 255).astype(np.uint8).tobytes()] for img in images]


# ----------------------------------------------------------------- loading
@pytest.mark.parametrize("gz", [False, True])
def test_load_mnist_round_trips_idx_files_with_the_paper_split(tmp_path, arrays, gz):
    splits = load_mnist(write_idx_folder(tmp_path, arrays, gz=gz), n_validation=10, seed=0)
    assert (len(splits.train), len(splits.validation), len(splits.test)) == (20, 10, N_TEST)
    for part in (splits.train, splits.validation, splits.test):
        assert part.images.shape == (len(part), 1, 28, 28) and part.images.dtype == np.float32
        assert part.labels.dtype == np.int64
        assert part.images.min() >= 0 and part.images.max() <= 1
    np.testing.assert_array_equal(splits.test.images[:, 0] * 255, arrays["x_test"])
    np.testing.assert_array_equal(splits.test.labels, arrays["y_test"])
    fit = rows_of(splits.train.images, arrays["x_train"])
    val = rows_of(splits.validation.images, arrays["x_train"])
    assert sorted(fit + val) == list(range(N_TRAIN))  # a partition of the training set
    np.testing.assert_array_equal(splits.train.labels, arrays["y_train"][fit])
    np.testing.assert_array_equal(splits.validation.labels, arrays["y_train"][val])


def test_the_validation_split_is_random_and_seeded(tmp_path, arrays):
    folder = write_idx_folder(tmp_path, arrays)

    def validation_rows(seed: int) -> list[int]:
        images = load_mnist(folder, n_validation=10, seed=seed).validation.images
        return rows_of(images, arrays["x_train"])

    first = validation_rows(0)
    assert validation_rows(0) == first and validation_rows(1) != first
    assert first != list(range(10))  # not simply the first images


def test_npz_file_and_folder_give_the_same_data_as_idx_files(tmp_path, arrays):
    from_idx = load_mnist(write_idx_folder(tmp_path / "idx", arrays), n_validation=5, seed=3)
    npz = tmp_path / "npz" / "mnist.npz"
    npz.parent.mkdir()
    np.savez(npz, **arrays)
    for path in (npz, npz.parent):  # the file itself, or a folder holding mnist.npz
        from_npz = load_mnist(path, n_validation=5, seed=3)
        for part in ("train", "validation", "test"):
            np.testing.assert_array_equal(
                getattr(from_npz, part).images, getattr(from_idx, part).images
            )
            np.testing.assert_array_equal(
                getattr(from_npz, part).labels, getattr(from_idx, part).labels
            )


def test_missing_files_are_named(tmp_path, arrays):
    with pytest.raises(DataError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(DataError, match=r"missing train-images-idx3-ubyte, .*t10k-labels") as e:
        load_mnist(tmp_path)
    assert "mnist.npz" in str(e.value) and ".gz" in str(e.value)
    write_idx_folder(tmp_path, arrays)
    (tmp_path / MNIST_FILES["y_test"]).unlink()
    with pytest.raises(DataError, match=r"missing t10k-labels-idx1-ubyte\. Expected"):
        load_mnist(tmp_path, n_validation=5)


def corrupt(arrays: dict[str, np.ndarray], key: str, data: bytes | np.ndarray) -> dict:
    return {**arrays, key: data}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("labels magic on images", r"bad magic number 2049 \(expected 2051\)"),
        ("truncated images", r"needs 23520 data bytes, the file has 23519; it is truncated"),
        ("20x20 images", r"images must be 28x28"),
        ("one label short", r"30 train images but 29 train labels"),
        ("label 10", r"labels must be digits 0..9, got 0..10"),
        ("empty file", r"bad magic number None"),
        ("not gzip", r"not a valid gzip file"),
    ],
)
def test_corrupt_idx_files_are_refused(tmp_path, arrays, change, message):
    write_idx_folder(tmp_path, arrays)
    images = tmp_path / MNIST_FILES["x_train"]
    labels = tmp_path / MNIST_FILES["y_train"]
    if change == "labels magic on images":
        write_idx(images, arrays["x_train"], IDX_LABELS_MAGIC)
    elif change == "truncated images":
        images.write_bytes(images.read_bytes()[:-1])
    elif change == "20x20 images":
        write_idx(images, arrays["x_train"][:, :20, :20], IDX_IMAGES_MAGIC)
    elif change == "one label short":
        write_idx(labels, arrays["y_train"][:-1], IDX_LABELS_MAGIC)
    elif change == "label 10":
        write_idx(labels, np.r_[arrays["y_train"][:-1], 10], IDX_LABELS_MAGIC)
    elif change == "empty file":
        labels.write_bytes(b"")
    elif change == "not gzip":
        labels.unlink()
        labels.with_name(labels.name + ".gz").write_bytes(idx_bytes(arrays["y_train"], 2049))
    with pytest.raises(DataError, match=message):
        load_mnist(tmp_path, n_validation=5)


def test_read_idx_reads_the_header_shape(tmp_path):
    array = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / "a.gz", array, IDX_IMAGES_MAGIC)
    out = read_idx(path, magic=IDX_IMAGES_MAGIC)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"y_test": None}, r"missing arrays \['y_test'\]"),
        ({"x_train": np.zeros((N_TRAIN, 28, 28), dtype=np.float32) + 2}, r"in \[0, 1\]"),
        ({"x_test": np.zeros((N_TEST, 27, 28), dtype=np.uint8)}, "images must be 28x28"),
    ],
)
def test_bad_npz_files_are_refused(tmp_path, arrays, change, message):
    content = {k: v for k, v in {**arrays, **change}.items() if v is not None}
    np.savez(tmp_path / "m.npz", **content)
    with pytest.raises(DataError, match=message):
        load_mnist(tmp_path / "m.npz", n_validation=5)
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    with pytest.raises(DataError, match=r"not a readable \.npz"):
        load_mnist(tmp_path / "junk.npz")


@pytest.mark.parametrize("n_validation", [-1, N_TRAIN, 10_000])
def test_n_validation_must_leave_training_images(tmp_path, arrays, n_validation):
    with pytest.raises(DataError, match=rf"n_validation must be in \[0, {N_TRAIN}\)"):
        load_mnist(write_idx_folder(tmp_path, arrays), n_validation=n_validation)


# ------------------------------------------------------------ grouped parts
def test_mnist_full_groups_each_part_by_digit(tmp_path, arrays):
    folder = write_idx_folder(tmp_path, arrays)
    splits = load_mnist(folder, n_validation=10, seed=4)
    for part, n in [("train", 20), ("validation", 10), ("test", N_TEST)]:
        data = make_mnist_full_groups(
            folder, part=part, n_validation=10, min_size=2, max_size=3, seed=4
        )
        assert data.name == "mnist-full" and data.x.shape == (n, 1, 28, 28)
        expected = getattr(splits, part)  # the same seed gives the same split
        np.testing.assert_array_equal(data.x, expected.images)
        np.testing.assert_array_equal(data.labels, expected.labels)
        for g in range(data.n_groups):
            assert len(np.unique(data.labels[data.group == g])) == 1


def test_mnist_full_needs_a_path_and_a_known_part(tmp_path, arrays):
    with pytest.raises(DataError, match="--data path=/some/dir"):
        load_dataset("mnist-full")
    with pytest.raises(DataError, match="part must be one of"):
        make_mnist_full_groups(write_idx_folder(tmp_path, arrays), part="dev", n_validation=5)
    data = load_dataset("mnist-full", path=str(tmp_path), n_validation=5, seed=1)
    assert data.n_obs == N_TRAIN - 5


# --------------------------------------------------------------- UCI digits
@pytest.fixture(scope="module")
def uci8() -> tuple[np.ndarray, np.ndarray]:
    return load_uci_digits(size=8)


def test_uci_digits_are_scaled_to_unit_range(uci8):
    from sklearn.datasets import load_digits

    images, labels = uci8
    assert images.shape == (1797, 1, 8, 8) and images.dtype == np.float32
    assert labels.dtype == np.int64 and np.bincount(labels).min() > 170
    np.testing.assert_allclose(images[:, 0] * 16, load_digits().images, atol=1e-5)
    assert images.min() == 0 and images.max() == 1


def test_uci_digits_resize_to_28x28_keeps_range_and_content(uci8):
    images, labels = load_uci_digits()
    assert images.shape == (1797, 1, 28, 28) and images.dtype == np.float32
    assert images.min() >= 0 and images.max() <= 1
    np.testing.assert_array_equal(labels, uci8[1])
    # bilinear resizing keeps each image's mean ink, and its mass on the same side
    np.testing.assert_allclose(images.mean((1, 2, 3)), uci8[0].mean((1, 2, 3)), atol=0.02)
    left = images[..., :14].sum((1, 2, 3)) > images[..., 14:].sum((1, 2, 3))
    left8 = uci8[0][..., :4].sum((1, 2, 3)) > uci8[0][..., 4:].sum((1, 2, 3))
    assert (left == left8).mean() > 0.95


def test_resize_images_checks_its_input():
    np.testing.assert_array_equal(resize_images(np.ones((2, 3, 8, 8)), 5), np.ones((2, 3, 5, 5)))
    with pytest.raises(DataError, match="size must be >= 1"):
        resize_images(np.ones((1, 1, 8, 8)), 0)
    with pytest.raises(DataError, match=r"\(n, c, h, w\)"):
        resize_images(np.ones((8, 8)), 4)


def test_uci_digit_groups_hold_one_digit():
    data = make_uci_digits_groups(size=8, seed=0)
    assert data.name == "uci-digits" and data.x.shape == (1797, 1, 8, 8)
    sizes = data.group_sizes
    assert sizes.min() >= 2 and sizes.max() <= 11
    for g in range(data.n_groups):
        assert len(np.unique(data.labels[data.group == g])) == 1


# ------------------------------------------------------------------ registry
def test_existing_registry_entries_are_unchanged():
    assert list(DATASETS)[:2] == ["exam-scores", "mnist"]
    model, training = lookup("mnist", "group-vae", "mlvae", group_latent=True)
    assert model == {
        "obs_shape": (1, 28, 28),
        "backbone": "mlp",
        "likelihood": "bernoulli",
        "decoder": "mlp",
        "group_dim": 10,
        "instance_dim": 3,
        "hidden": 512,
        "n_hidden": 1,
    }
    assert lookup("mnist", "group-vae", "vae", group_latent=False)[0]["instance_dim"] == 13
    assert training == {
        "groups_per_batch": 32,
        "lr": 1e-3,
        "epochs": 80,
        "num_threads": 1,
    }


@pytest.mark.parametrize(
    ("name", "options"), [("uci-digits", {}), ("shapes", {"n_groups": 3}), ("mnist-full", {})]
)
def test_image_data_sets_fit_their_model_defaults(tmp_path, arrays, name, options):
    if name == "mnist-full":
        options = {"path": str(write_idx_folder(tmp_path, arrays)), "n_validation": 5}
    spec = DATASETS[name]
    training = lookup(name, "group-vae", "mlvae", group_latent=True)[1]
    assert spec.description and {"groups_per_batch", "lr", "epochs"} <= set(training)
    data = load_dataset(name, seed=0, **options).subset_groups(np.arange(3))
    for preset in ("vae", "mlvae"):
        config = build_config(preset, dataset=name)
        assert config.obs_shape == data.obs_shape and config.likelihood == "bernoulli"
        assert config.group_dim + config.instance_dim == 20
    model = create("mlvae", dataset=name, hidden=16)
    assert model.reconstruct(data).shape == data.x.shape
