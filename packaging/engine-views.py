#!/usr/bin/env python3
"""Single-engine views of a `bifsmn data synth` corpus, for the cross-engine tables of
docs/ROBUSTNESS.md.

    packaging/engine-views.py corpora/both corpora

makes, from the corpus's manifest.tsv (which names the engine of every clip):

- corpora/only-espeak, corpora/only-festival: one engine's clips in every split (train on
  these), with the corpus's noise files, keywords.txt and the split lists' entries of that
  engine;
- corpora/both-espeak-test, corpora/both-festival-test: the whole corpus with only that
  engine's clips in the test list (test on these; the validation list is empty).

Clips are symbolic links to the corpus; nothing is copied or re-rendered.
"""
import os
import sys

LISTS = ("validation_list.txt", "testing_list.txt")


def link(src, dst):
    os.makedirs(os.path.dirname(dst), exist_ok=True)
    if not os.path.lexists(dst):
        os.symlink(os.path.abspath(src), dst)


def write_list(path, entries):
    with open(path, "w") as f:
        f.write("\n".join(entries) + "\n")


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    corpus, out = sys.argv[1], sys.argv[2]
    manifest = os.path.join(corpus, "manifest.tsv")
    if not os.path.isfile(manifest):
        sys.exit(f"engine-views: {manifest} does not exist (not a `bifsmn data synth` corpus?)")
    rows = [line.split("\t") for line in open(manifest).read().splitlines()]
    header, rows = rows[0], rows[1:]
    path_col, engine_col = header.index("path"), header.index("engine")
    engine_of = {r[path_col]: r[engine_col] for r in rows}
    lists = {name: open(os.path.join(corpus, name)).read().split() for name in LISTS}

    for engine in sorted(set(engine_of.values())):
        only = os.path.join(out, f"only-{engine}")
        for rel, e in engine_of.items():
            if e == engine:
                link(os.path.join(corpus, rel), os.path.join(only, rel))
        for name in ("_background_noise_", "keywords.txt"):
            link(os.path.join(corpus, name), os.path.join(only, name))
        for name, entries in lists.items():
            write_list(os.path.join(only, name), [x for x in entries if engine_of.get(x) == engine])

        test = os.path.join(out, f"both-{engine}-test")
        for name in os.listdir(corpus):
            if name not in LISTS:
                link(os.path.join(corpus, name), os.path.join(test, name))
        tests = [x for x in lists["testing_list.txt"] if engine_of.get(x) == engine]
        write_list(os.path.join(test, "testing_list.txt"), tests)
        write_list(os.path.join(test, "validation_list.txt"), [])
        print(f"{engine}: {only} ({sum(e == engine for e in engine_of.values())} clips), "
              f"{test} ({len(tests)} test clips)")


if __name__ == "__main__":
    main()
