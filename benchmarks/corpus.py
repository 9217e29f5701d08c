"""A corpus of plain English sentences for the survey benchmark, made here (no one's text):
a seeded generator puts words of everyday vocabulary into a few sentence shapes, 6 to 30
words long, with commas, clauses and full stops.

Usage: python benchmarks/corpus.py N OUT.txt [SEED]
"""

import random
import sys

SUBJECTS = [
    "the cat",
    "a child",
    "my neighbour",
    "the old man",
    "our teacher",
    "the river",
    "a small bird",
    "the doctor",
    "her brother",
    "the storm",
    "every farmer",
    "the young woman",
    "a stranger",
    "the captain",
    "the committee",
    "his dog",
]
VERBS = [
    "watched",
    "followed",
    "found",
    "carried",
    "painted",
    "remembered",
    "opened",
    "crossed",
    "answered",
    "visited",
    "described",
    "ignored",
    "repaired",
    "counted",
]
OBJECTS = [
    "the letter",
    "a wooden box",
    "the bridge",
    "the garden",
    "an empty house",
    "the blue door",
    "a long road",
    "the morning train",
    "the broken clock",
    "a quiet village",
    "the market",
    "the last page",
    "a pair of boots",
]
PLACES = [
    "near the station",
    "after the rain",
    "in the evening",
    "by the sea",
    "before dinner",
    "under the trees",
    "on a cold morning",
    "at the corner",
]
LINKS = ["because", "while", "although", "when", "and then", "but"]


def sentence(rng: random.Random) -> str:
    """One sentence: a clause, sometimes a place, sometimes a second clause."""
    words = [rng.choice(SUBJECTS), rng.choice(VERBS), rng.choice(OBJECTS)]
    if rng.random() < 0.6:
        words.append(rng.choice(PLACES))
    text = " ".join(words)
    if rng.random() < 0.5:
        text += f", {rng.choice(LINKS)} {rng.choice(SUBJECTS)} {rng.choice(VERBS)} "
        text += rng.choice(OBJECTS)
    return text[0].upper() + text[1:] + rng.choice([".", ".", ".", "!", "?"])


def main() -> None:
    n, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(int(sys.argv[3]) if len(sys.argv) > 3 else 0)
    with open(out, "w", encoding="utf-8") as f:
        for _ in range(n):
            f.write(sentence(rng) + "\n")


if __name__ == "__main__":
    main()
