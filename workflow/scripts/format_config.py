#!/usr/bin/env python
"""Write a config file's lists in block style, the style DVC writes them in.

`dvc exp run -S key=value` rewrites the whole file through its own YAML writer, which writes
every list it touches in block style: a config written in that style already keeps its
formatting and comments, only the set value changes (tests/workflow/test_config_format.py).

Usage: python workflow/scripts/format_config.py config/*.yaml
"""

import sys
from pathlib import Path

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq


def block_lists(node, in_list: bool = False) -> None:
    if isinstance(node, CommentedSeq):
        node.fa.set_block_style()
        for item in node:
            block_lists(item, in_list=True)
    elif isinstance(node, CommentedMap):
        if in_list:  # a mapping inside a list: DVC writes it in block style too
            node.fa.set_block_style()
        for value in node.values():
            block_lists(value, in_list)


def main(paths) -> int:
    yaml = YAML()
    yaml.preserve_quotes = True
    yaml.width = 4096
    for path in map(Path, paths):
        data = yaml.load(path.read_text())
        block_lists(data)
        with path.open("w") as f:
            yaml.dump(data, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
