"""Helpers the tests import (conftest.py holds fixtures only and is never imported):

- :mod:`helpers.workflow`: the repository paths, running the real workflow, copying its source,
  digests of result trees;
- :mod:`helpers.classify`: tiny real files in the layout the classify stage reads;
- :mod:`helpers.quality`: tiles, class folders and a stand-in Inception network.

``tests/`` is on ``sys.path`` while pytest runs (rootdir conftest, prepend import mode), so a
test writes ``from helpers.workflow import REPO``.
"""
