"""What hpo knows about each dataset: description, classes, accepted formats and where to find files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from contracts.enums import DATASET_MODALITY, DatasetName, Modality
from services.trainer.datasets.base import LoadOptions
from services.trainer.datasets.cifar import CIFAR10, CIFAR100, find_cifar
from services.trainer.datasets.digits import find_digits
from services.trainer.datasets.gtsrb import find_gtsrb
from services.trainer.datasets.idx import find_idx
from services.trainer.datasets.image_folder import find_builtin_folders, find_user_image_folder
from services.trainer.datasets.imdb import CLASS_NAMES as IMDB_CLASSES
from services.trainer.datasets.imdb import find_aclimdb, find_imdb_npz
from services.trainer.datasets.kaggle_csv import find_kaggle_csv
from services.trainer.datasets.reuters import find_reuters_npz, find_sgml
from services.trainer.datasets.source import Source, search_dirs
from services.trainer.datasets.text_csv import find_text_csv

DIGIT_NAMES = tuple(str(i) for i in range(10))
FASHION_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
CIFAR10_NAMES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
CIFAR100_NAMES = (
    "apple", "aquarium_fish", "baby", "bear", "beaver", "bed", "bee", "beetle", "bicycle", "bottle", "bowl", "boy",
    "bridge", "bus", "butterfly", "camel", "can", "castle", "caterpillar", "cattle", "chair", "chimpanzee", "clock",
    "cloud", "cockroach", "couch", "crab", "crocodile", "cup", "dinosaur", "dolphin", "elephant", "flatfish",
    "forest", "fox", "girl", "hamster", "house", "kangaroo", "keyboard", "lamp", "lawn_mower", "leopard", "lion",
    "lizard", "lobster", "man", "maple_tree", "motorcycle", "mountain", "mouse", "mushroom", "oak_tree", "orange",
    "orchid", "otter", "palm_tree", "pear", "pickup_truck", "pine_tree", "plain", "plate", "poppy", "porcupine",
    "possum", "rabbit", "raccoon", "ray", "road", "rocket", "rose", "sea", "seal", "shark", "shrew", "skunk",
    "skyscraper", "snail", "snake", "spider", "squirrel", "streetcar", "sunflower", "sweet_pepper", "table", "tank",
    "telephone", "television", "tiger", "tractor", "train", "trout", "tulip", "turtle", "wardrobe", "whale",
    "willow_tree", "wolf", "woman", "worm",
)  # fmt: skip
GTSRB_NAMES = (
    "Speed limit (20km/h)", "Speed limit (30km/h)", "Speed limit (50km/h)", "Speed limit (60km/h)",
    "Speed limit (70km/h)", "Speed limit (80km/h)", "End of speed limit (80km/h)", "Speed limit (100km/h)",
    "Speed limit (120km/h)", "No passing", "No passing for vehicles over 3.5 metric tons",
    "Right-of-way at the next intersection", "Priority road", "Yield", "Stop", "No vehicles",
    "Vehicles over 3.5 metric tons prohibited", "No entry", "General caution", "Dangerous curve to the left",
    "Dangerous curve to the right", "Double curve", "Bumpy road", "Slippery road", "Road narrows on the right",
    "Road work", "Traffic signals", "Pedestrians", "Children crossing", "Bicycles crossing", "Beware of ice/snow",
    "Wild animals crossing", "End of all speed and passing limits", "Turn right ahead", "Turn left ahead",
    "Ahead only", "Go straight or right", "Go straight or left", "Keep right", "Keep left", "Roundabout mandatory",
    "End of no passing", "End of no passing by vehicles over 3.5 metric tons",
)  # fmt: skip


@dataclass(frozen=True)
class DatasetSpec:
    """One dataset: how to describe it, which files it accepts and how to find them under a data directory.

    ``find(data_dir, options)`` lists the sources found; ``options`` matter to the user-data kinds and
    to image folders (what to do with unreadable files).
    """

    name: DatasetName
    description: str
    formats: tuple[str, ...]
    expected: str
    class_names: tuple[str, ...] | None
    input_shape: tuple[int, ...] | None
    find: Callable[[Path, LoadOptions], list[Source]]
    url: str | None = None
    user_data: bool = False
    needs_dir: bool = True

    @property
    def modality(self) -> Modality:
        return DATASET_MODALITY[self.name]


def _keep(*sources: Source | None) -> list[Source]:
    return [s for s in sources if s is not None]


def _mnist_like(
    name: str, csv_prefix: str, aliases: tuple[str, ...] = ()
) -> Callable[[Path, LoadOptions], list[Source]]:
    def find(data_dir: Path, options: LoadOptions) -> list[Source]:
        dirs = search_dirs(data_dir, name, aliases)
        return _keep(*(find_idx(d, 10) for d in dirs), *(find_kaggle_csv(d, csv_prefix, 10) for d in dirs))

    return find


def _cifar10(data_dir: Path, options: LoadOptions) -> list[Source]:
    dirs = search_dirs(data_dir, "cifar10", ("cifar-10",))
    folders = find_builtin_folders("cifar10", dirs, CIFAR10_NAMES, (32, 32), 3, options.on_bad_files)
    return _keep(*(find_cifar(d, CIFAR10, CIFAR10_NAMES) for d in dirs), folders)


def _cifar100(data_dir: Path, options: LoadOptions) -> list[Source]:
    dirs = search_dirs(data_dir, "cifar100", ("cifar-100",))
    folders = find_builtin_folders("cifar100", dirs, CIFAR100_NAMES, (32, 32), 3, options.on_bad_files)
    return _keep(*(find_cifar(d, CIFAR100, CIFAR100_NAMES) for d in dirs), folders)


def _gtsrb(data_dir: Path, options: LoadOptions) -> list[Source]:
    return _keep(find_gtsrb(search_dirs(data_dir, "gtsrb", ("GTSRB",), ("GTSRB",)), len(GTSRB_NAMES)))


def _imdb(data_dir: Path, options: LoadOptions) -> list[Source]:
    dirs = search_dirs(data_dir, "imdb")
    return _keep(*(find_aclimdb(d) for d in dirs), *(find_imdb_npz(d) for d in dirs))


def _reuters(data_dir: Path, options: LoadOptions) -> list[Source]:
    dirs = search_dirs(data_dir, "reuters")
    return _keep(*(find_sgml(d) for d in dirs), *(find_reuters_npz(d) for d in dirs))


_IDX_FILES = (
    "train-images-idx3-ubyte[.gz] + train-labels-idx1-ubyte[.gz] and/or t10k-images-idx3-ubyte[.gz] + "
    "t10k-labels-idx1-ubyte[.gz] (labels without their images do not count), or {c}_train.csv / {c}_test.csv"
)

SPECS: dict[DatasetName, DatasetSpec] = {
    spec.name: spec
    for spec in (
        DatasetSpec(
            DatasetName.MNIST,
            "MNIST handwritten digits, 28x28 grayscale, 10 classes",
            ("IDX", "Kaggle CSV"),
            _IDX_FILES.format(c="mnist"),
            DIGIT_NAMES,
            (28, 28, 1),
            _mnist_like("mnist", "mnist"),
            url="https://storage.googleapis.com/cvdf-datasets/mnist/",
        ),
        DatasetSpec(
            DatasetName.FASHION_MNIST,
            "Fashion-MNIST clothing images, 28x28 grayscale, 10 classes",
            ("IDX", "Kaggle CSV"),
            _IDX_FILES.format(c="fashion-mnist"),
            FASHION_NAMES,
            (28, 28, 1),
            _mnist_like("fashion_mnist", "fashion-mnist", ("fashion-mnist",)),
            url="https://github.com/zalandoresearch/fashion-mnist (data/fashion/)",
        ),
        DatasetSpec(
            DatasetName.CIFAR10,
            "CIFAR-10 natural images, 32x32 RGB, 10 classes",
            ("CIFAR pickles", "image folders"),
            "cifar-10-batches-py/{data_batch_1..5,test_batch}, or train*/test* folders of <class>/*.jpg|png",
            CIFAR10_NAMES,
            (32, 32, 3),
            _cifar10,
            url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        ),
        DatasetSpec(
            DatasetName.CIFAR100,
            "CIFAR-100 natural images, 32x32 RGB, 100 fine classes",
            ("CIFAR pickles", "image folders"),
            "cifar-100-python/{train,test}, or train*/test* folders of <class>/*.jpg|png",
            CIFAR100_NAMES,
            (32, 32, 3),
            _cifar100,
            url="https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        ),
        DatasetSpec(
            DatasetName.GTSRB,
            "German Traffic Sign Recognition Benchmark, resized to 32x32 RGB, 43 classes",
            ("GTSRB folders",),
            "Final_Training/Images/<class>/*.ppm (+ GT-<class>.csv) and/or Final_Test/Images/*.ppm + GT-final_test.csv",
            GTSRB_NAMES,
            (32, 32, 3),
            _gtsrb,
            url="https://sid.erda.dk/public/archives/daaeac0d7ce1152aea9b61d9f1e19370/",
        ),
        DatasetSpec(
            DatasetName.IMDB,
            "IMDB movie reviews, sentiment (neg/pos)",
            ("aclImdb text folders", "Keras imdb.npz"),
            "aclImdb/{train,test}/{neg,pos}/*.txt, or imdb.npz",
            tuple(IMDB_CLASSES),
            None,
            _imdb,
            url="https://ai.stanford.edu/~amaas/data/sentiment/aclImdb_v1.tar.gz",
        ),
        DatasetSpec(
            DatasetName.REUTERS,
            "Reuters newswires, single-topic classification",
            ("Reuters-21578 SGML", "Keras reuters.npz"),
            "reuters21578/reut2-*.sgm, or reuters.npz",
            None,
            None,
            _reuters,
            url="https://kdd.ics.uci.edu/databases/reuters21578/reuters21578.tar.gz",
        ),
        DatasetSpec(
            DatasetName.DIGITS,
            "scikit-learn's bundled 8x8 handwritten digits, 10 classes (always available offline)",
            ("scikit-learn load_digits",),
            "nothing (bundled with scikit-learn)",
            DIGIT_NAMES,
            (8, 8, 1),
            lambda data_dir, options: [find_digits()],
            needs_dir=False,
        ),
        DatasetSpec(
            DatasetName.IMAGE_FOLDER,
            "your images: a folder with one subfolder per class (optionally train/ and test/ above them)",
            ("image folders",),
            "<data_dir>/<class>/*.jpg|png|ppm|pgm|bmp",
            None,
            None,
            lambda data_dir, options: [find_user_image_folder(data_dir, options.on_bad_files)],
            user_data=True,
        ),
        DatasetSpec(
            DatasetName.TEXT_CSV,
            "your text: a CSV file with a header holding 'text' and 'label' columns (or those named by "
            "text_column= and label_column=)",
            ("text CSV",),
            "<data_dir> = a .csv file (or a folder holding exactly one) with columns text,label",
            None,
            None,
            lambda data_dir, options: [find_text_csv(data_dir, options.text_column, options.label_column)],
            user_data=True,
        ),
    )
}
