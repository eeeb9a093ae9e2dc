"""Text data: aclImdb folders, Keras .npz, Reuters SGML, user CSV, and the vocabulary they share."""

from __future__ import annotations

import numpy as np
import pytest

from contracts.enums import DatasetName, Modality
from services.trainer.datasets import FIRST_WORD_INDEX, OOV_INDEX, DatasetError, load_dataset
from services.trainer.datasets.reuters import KERAS_LABEL_NAMES, MIN_TOPIC_DOCS
from services.trainer.datasets.vocabulary import build_vocabulary, encode, tokenize


def test_tokenize_lowercases_and_strips_html():
    assert tokenize("Great movie!<br /><br />It's GOOD, isn't it?") == ["great", "movie", "it's", "good", "isn't", "it"]


def test_vocabulary_ranks_by_training_frequency_from_2():
    vocab = build_vocabulary([["b", "a", "b"], ["c", "b", "a"]])
    assert vocab == {"b": FIRST_WORD_INDEX, "a": FIRST_WORD_INDEX + 1, "c": FIRST_WORD_INDEX + 2}
    encoded = encode([["a", "zzz", "b"], []], vocab)
    assert encoded.dtype == object and encoded[0].dtype == np.int32
    assert encoded[0].tolist() == [3, OOV_INDEX, 2] and encoded[1].tolist() == []


def _write_reviews(root, split, per_label):
    for label, words in (("neg", "awful boring bad"), ("pos", "great wonderful good")):
        folder = root / "aclImdb" / split / label
        folder.mkdir(parents=True)
        for i in range(per_label):
            (folder / f"{i}_1.txt").write_text(f"The film was {words}.<br />Really {words.split()[0]} {i}")


def test_aclimdb_train_and_test(tmp_path):
    _write_reviews(tmp_path / "imdb", "train", 10)
    _write_reviews(tmp_path / "imdb", "test", 4)
    data = load_dataset(DatasetName.IMDB, tmp_path, seed=2)
    assert data.modality is Modality.TEXT and data.class_names == ["neg", "pos"]
    assert (len(data.train), len(data.validation), len(data.test)) == (17, 3, 8)
    assert data.train.x.dtype == object and all(seq.dtype == np.int32 for seq in data.train.x)
    assert data.input_shape == ()
    # "the", "film", "was", "really" occur in every review: they take the lowest indices
    counts = np.bincount(np.concatenate(list(data.train.x)))
    assert counts[2:6].min() >= counts[6:].max()
    assert min(int(seq.min()) for seq in data.train.x) >= FIRST_WORD_INDEX  # no OOV in train
    # pos reviews and neg reviews differ in their sentiment words
    first_pos = data.train.x[list(data.train.y).index(1)]
    first_neg = data.train.x[list(data.train.y).index(0)]
    assert set(first_pos.tolist()) != set(first_neg.tolist())


def test_aclimdb_test_only_is_split_with_a_note(tmp_path):
    _write_reviews(tmp_path / "imdb", "test", 20)
    data = load_dataset(DatasetName.IMDB, tmp_path / "imdb")
    assert (len(data.train), len(data.validation), len(data.test)) == (28, 6, 6)
    assert "only the test split" in data.notes[0]


def test_imdb_npz_ids_are_reranked_by_training_frequency(tmp_path, make):
    make.write_npz(
        tmp_path / "imdb.npz",
        x_train=make.ragged([[5, 9, 9], [9, 7], [5, 9], [9, 9, 1]] * 3),
        y_train=np.array([0, 1, 0, 1] * 3),
        x_test=make.ragged([[9, 42], [5]]),
        y_test=np.array([1, 0]),
    )
    data = load_dataset(DatasetName.IMDB, tmp_path)
    assert "Keras imdb.npz" in data.source and len(data.test) == 2
    all_train = np.concatenate([*data.train.x, *data.validation.x])
    assert np.bincount(all_train).argmax() == FIRST_WORD_INDEX  # id 9, the most frequent, became 2
    test_doc = data.test.x[list(data.test.y).index(1)]
    assert test_doc.tolist() == [FIRST_WORD_INDEX, OOV_INDEX]  # id 42 never occurs in train


SGML_DOC = """<REUTERS TOPICS="YES" LEWISSPLIT="{split}" CGISPLIT="TRAINING-SET" OLDID="1" NEWID="{id}">
<DATE>26-FEB-1987</DATE>
<TOPICS>{topics}</TOPICS>
<TEXT>&#2;
<TITLE>TITLE {id}</TITLE>
<BODY>{body} prices &lt;up&gt; caf\xe9
 Reuter
&#3;</BODY></TEXT>
</REUTERS>
"""


def _sgml(docs):
    return '<!DOCTYPE lewis SYSTEM "lewis.dtd">\n' + "".join(
        SGML_DOC.format(split=s, id=i, topics="".join(f"<D>{t}</D>" for t in topics), body=body)
        for i, (s, topics, body) in enumerate(docs)
    )


def test_reuters_sgml_single_topic_documents_of_frequent_topics(tmp_path):
    docs = [("TRAIN", ["grain"], "wheat harvest")] * 6 + [("TRAIN", ["crude"], "oil barrels")] * 5
    docs += [("TRAIN", ["gold"], "rare metal")] * (MIN_TOPIC_DOCS - 1)  # too rare: dropped
    docs += [("TRAIN", ["grain", "wheat"], "two topics")] * 4  # multi-topic: dropped
    docs += [("TRAIN", [], "no topic")] * 4 + [("NOT-USED", ["grain"], "unused")] * 4
    folder = tmp_path / "reuters" / "reuters21578"
    folder.mkdir(parents=True)
    (folder / "reut2-000.sgm").write_bytes(_sgml(docs).encode("latin-1"))
    test_docs = [("TEST", ["grain"], "wheat"), ("TEST", ["crude"], "oil"), ("TEST", ["gold"], "metal")]
    (folder / "reut2-021.sgm").write_bytes(_sgml(test_docs).encode("latin-1"))

    data = load_dataset(DatasetName.REUTERS, tmp_path)

    assert data.class_names == ["crude", "grain"]
    assert len(data.train) + len(data.validation) == 11 and len(data.test) == 2
    assert "Reuters-21578 SGML" in data.source and "kept 13" in data.notes[0]
    assert all(len(seq) == 5 for seq in data.train.x)  # 2 words + prices + up + café; the Reuter sign-off is gone


def test_reuters_npz_is_one_pool(tmp_path, make):
    make.write_npz(tmp_path / "reuters.npz", x=make.ragged([[1, 2, 3], [4, 5]] * 20), y=np.array([3, 4] * 20))
    data = load_dataset(DatasetName.REUTERS, tmp_path)
    assert data.class_names == list(KERAS_LABEL_NAMES) and data.num_classes == 46
    assert (len(data.train), len(data.validation), len(data.test)) == (28, 6, 6)
    assert "no separate test split" in data.notes[0]


def test_text_csv(tmp_path):
    rows = ["id,Text,label"] + [f'{i},"good, fine film {i}",pos' for i in range(10)]
    rows += [f"{i},awful film,neg" for i in range(10)] + ["99,,neg"]
    (tmp_path / "reviews.csv").write_text("\n".join(rows) + "\n")
    data = load_dataset(DatasetName.TEXT_CSV, tmp_path)
    assert data.class_names == ["neg", "pos"]
    assert len(data.train) + len(data.validation) + len(data.test) == 20
    assert data.validation.x[0].dtype == np.int32
    assert "20 rows used" in data.notes[0] and "dropped 1 empty row (1 with an empty text)" in data.notes[0]
    assert "no separate test split" in data.notes[1]


def test_text_csv_numeric_labels_sort_numerically(tmp_path):
    lines = ["text,label"] + [f"word{i % 3},{lab}" for i, lab in enumerate(["10", "9", "2"] * 5)]
    (tmp_path / "d.csv").write_text("\n".join(lines))
    assert load_dataset(DatasetName.TEXT_CSV, tmp_path / "d.csv").class_names == ["2", "9", "10"]


def test_text_csv_without_text_and_label_columns_is_refused(tmp_path):
    (tmp_path / "d.csv").write_text("review,sentiment\nnice,pos\n")
    with pytest.raises(DatasetError, match="needs a header row with 'text' and 'label' columns"):
        load_dataset(DatasetName.TEXT_CSV, tmp_path)


def test_text_csv_folder_must_hold_exactly_one_csv(tmp_path):
    (tmp_path / "a.csv").write_text("text,label\n")
    (tmp_path / "b.csv").write_text("text,label\n")
    with pytest.raises(DatasetError, match=r"holds 2 \.csv files, expected exactly one"):
        load_dataset(DatasetName.TEXT_CSV, tmp_path)


def test_corrupt_npz_names_the_file(tmp_path):
    (tmp_path / "imdb.npz").write_bytes(b"PK\x03\x04 broken")
    with pytest.raises(DatasetError, match=r"imdb\.npz: not a readable \.npz archive"):
        load_dataset(DatasetName.IMDB, tmp_path)
