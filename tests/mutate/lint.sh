#!/bin/sh
# tests/mutate/lint.sh - make check's guard against stale mutants: every
# record of tests/mutate/mutants.txt must still apply (see run.sh --lint;
# a second, building nothing, parsing the list with run.sh's own reader).
exec bash "$(dirname "$0")/run.sh" --lint
